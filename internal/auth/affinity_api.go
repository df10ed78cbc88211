package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/state"
)

// AffinityAPI serves /api/v1/affinity/{user} (behind server.api_auth like
// every route): GET shows a user's stored backends, PUT moves the user to a
// backend (stored for affinity_ttl), DELETE flushes the user's entries.
// ?protocol=P limits it to one protocol (imaps is imap, as for logins);
// without it, GET and DELETE cover every target protocol.
type AffinityAPI struct {
	store  state.AffinityStore
	ttl    time.Duration
	health health.Source
}

// NewAffinityAPI serves store's entries; snapshots tell which backend IDs
// exist (a move to an unknown ID is refused).
func NewAffinityAPI(store state.AffinityStore, cfg *config.Config, snapshots health.Source) *AffinityAPI {
	return &AffinityAPI{store: store, ttl: cfg.Auth.Nginx.EffectiveAffinityTTL(), health: snapshots}
}

// Register implements server.Mount.
func (a *AffinityAPI) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/affinity/{user}", a.serveGet)
	mux.HandleFunc("PUT /api/v1/affinity/{user}", a.servePut)
	mux.HandleFunc("DELETE /api/v1/affinity/{user}", a.serveDelete)
}

// AffinityEntry is one stored backend of a user.
type AffinityEntry struct {
	Protocol string `json:"protocol"`
	Backend  string `json:"backend"`
}

type affinityAnswer struct {
	User    string          `json:"user"`
	Entries []AffinityEntry `json:"entries"`
}

// maxAffinityBody bounds a PUT body: {"backend": an ID}.
const maxAffinityBody = 2 << 10

// storeTimeout bounds an API call's store work.
const storeTimeout = 5 * time.Second

// args reads and checks the user and protocol; protos is the protocol
// asked for, or every target protocol.
func (a *AffinityAPI) args(r *http.Request) (user string, protos []string, err error) {
	user = r.PathValue("user")
	switch {
	case user == "":
		return "", nil, errors.New("user is required")
	case len(user) > state.MaxAffinityUserLen:
		return "", nil, fmt.Errorf("user longer than %d bytes", state.MaxAffinityUserLen)
	case hasControl(user) || !utf8.ValidString(user):
		return "", nil, errors.New("user contains control characters or invalid UTF-8")
	}
	q := r.URL.Query()
	for k, v := range q {
		if k != "protocol" {
			return "", nil, fmt.Errorf("unknown query parameter %s", quoteValue(k))
		}
		if len(v) != 1 {
			return "", nil, errors.New("protocol is given more than once")
		}
	}
	p, ok := q["protocol"]
	if !ok {
		return user, []string{config.ProtoIMAP, config.ProtoPOP3, config.ProtoLMTP, config.ProtoSMTP, config.ProtoSieve, config.ProtoHTTP}, nil
	}
	if !ValidProtocolName(p[0]) {
		return "", nil, fmt.Errorf("protocol %s is not a protocol name (imap, pop3, smtp, ...)", quoteValue(p[0]))
	}
	return user, []string{targetProtocol(p[0])}, nil
}

func (a *AffinityAPI) serveGet(w http.ResponseWriter, r *http.Request) {
	user, protos, err := a.args(r)
	if err != nil {
		affinityError(w, http.StatusBadRequest, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), storeTimeout)
	defer cancel()
	ans := affinityAnswer{User: user, Entries: []AffinityEntry{}}
	for _, p := range protos {
		b, ok, err := a.store.Get(ctx, state.AffinityKey{User: user, Protocol: p}, 0)
		if err != nil {
			affinityError(w, http.StatusServiceUnavailable, fmt.Errorf("affinity store: %v", err))
			return
		}
		if ok {
			ans.Entries = append(ans.Entries, AffinityEntry{Protocol: p, Backend: b})
		}
	}
	writeExplainJSON(w, http.StatusOK, ans)
}

func (a *AffinityAPI) servePut(w http.ResponseWriter, r *http.Request) {
	user, protos, err := a.args(r)
	if err != nil {
		affinityError(w, http.StatusBadRequest, err)
		return
	}
	backend, err := readAffinityBody(w, r)
	if err != nil {
		affinityError(w, http.StatusBadRequest, err)
		return
	}
	proto, ok := a.backendProtocol(backend)
	if !ok {
		affinityError(w, http.StatusNotFound, fmt.Errorf("no mail backend %s", quoteValue(backend)))
		return
	}
	if len(protos) == 1 && protos[0] != proto {
		affinityError(w, http.StatusBadRequest, fmt.Errorf("backend %s serves %s, not %s", quoteValue(backend), proto, protos[0]))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), storeTimeout)
	defer cancel()
	if err := a.store.Set(ctx, state.AffinityKey{User: user, Protocol: proto}, backend, a.ttl); err != nil {
		affinityError(w, http.StatusServiceUnavailable, fmt.Errorf("affinity store: %v", err))
		return
	}
	writeExplainJSON(w, http.StatusOK, affinityAnswer{User: user, Entries: []AffinityEntry{{Protocol: proto, Backend: backend}}})
}

func (a *AffinityAPI) serveDelete(w http.ResponseWriter, r *http.Request) {
	user, protos, err := a.args(r)
	if err != nil {
		affinityError(w, http.StatusBadRequest, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), storeTimeout)
	defer cancel()
	for _, p := range protos {
		if err := a.store.Delete(ctx, state.AffinityKey{User: user, Protocol: p}); err != nil {
			affinityError(w, http.StatusServiceUnavailable, fmt.Errorf("affinity store: %v", err))
			return
		}
	}
	writeExplainJSON(w, http.StatusOK, map[string]any{"user": user, "flushed": protos})
}

// readAffinityBody reads {"backend":"ID"} strictly: no unknown or repeated
// keys, no trailing data, at most maxAffinityBody bytes.
func readAffinityBody(w http.ResponseWriter, r *http.Request) (string, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAffinityBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return "", fmt.Errorf("request body larger than %d bytes", maxAffinityBody)
		}
		return "", fmt.Errorf("reading request body: %v", err)
	}
	var in struct {
		Backend *string `json:"backend"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		if errors.Is(err, io.EOF) {
			return "", errors.New("invalid JSON body: empty body")
		}
		return "", fmt.Errorf("invalid JSON body: %v", err)
	}
	if dec.More() {
		return "", errors.New("invalid JSON body: more than one JSON value")
	}
	if repeatedKey(body) {
		return "", errors.New("invalid JSON body: a key is sent more than once")
	}
	switch {
	case in.Backend == nil || *in.Backend == "":
		return "", errors.New("backend is required")
	case len(*in.Backend) > state.MaxIDLen || hasControl(*in.Backend):
		return "", fmt.Errorf("backend %s is not a backend ID", quoteValue(*in.Backend))
	}
	return *in.Backend, nil
}

// backendProtocol is the protocol of the mail backend with this ID in the
// current snapshot.
func (a *AffinityAPI) backendProtocol(id string) (string, bool) {
	if a.health == nil {
		return "", false
	}
	snap := a.health.Snapshot()
	if snap == nil {
		return "", false
	}
	for i := range snap.Backends {
		b := &snap.Backends[i]
		if b.Group == health.GroupMail && b.Target != nil && backendID(b) == id {
			return b.Target.Protocol, true
		}
	}
	return "", false
}

func affinityError(w http.ResponseWriter, status int, err error) {
	writeExplainJSON(w, status, map[string]string{"error": reasonText(err.Error())})
}

// repeatedKey reports whether the top-level object body (decoded without
// error) holds a key twice, in any case: encoding/json matches names
// without case and keeps the last, and which copy wins must not be a guess.
func repeatedKey(body []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return false
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		key := strings.ToLower(fmt.Sprint(tok))
		if seen[key] {
			return true
		}
		seen[key] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return false
		}
	}
	return false
}
