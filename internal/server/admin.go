package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/backline/backline/internal/health"
)

// AdminController is what the admin API needs of the health engine
// (*health.Engine implements it). Options.Snapshot provides it when it
// implements this interface too.
type AdminController interface {
	GetAdmin(id string) (health.Admin, bool)
	SetAdmin(id string, ch health.AdminChange) (health.Admin, error)
	ResetAdmin(id string) (health.Admin, error)
}

const (
	backendsPrefix = "/api/v1/backends/"
	adminSuffix    = "/admin"
	// maxAdminBody bounds a PUT body: the largest valid one is well under 1 KiB.
	maxAdminBody = 4 << 10
	minAdminTTL  = time.Second
	maxAdminTTL  = 30 * 24 * time.Hour
)

// serveAdmin handles GET, PUT and DELETE /api/v1/backends/{id}/admin before
// the mux sees the request, because IDs contain "//" (imap://host:993),
// which the mux would clean away and redirect. The ID may be sent raw or
// percent-encoded. It reports whether it handled the request.
func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) bool {
	raw := r.URL.EscapedPath()
	if !strings.HasPrefix(raw, backendsPrefix) || !strings.HasSuffix(raw, adminSuffix) {
		return false
	}
	escaped := strings.TrimSuffix(strings.TrimPrefix(raw, backendsPrefix), adminSuffix)
	if s.knownBackend(raw) {
		return false // a backend whose ID itself ends in /admin: the plain view
	}
	id, err := url.PathUnescape(escaped)
	if err != nil || id == "" {
		writeError(w, http.StatusBadRequest, "malformed backend id in the path")
		return true
	}
	ctl, ok := s.opts.Snapshot.(AdminController)
	if !ok {
		writeError(w, http.StatusServiceUnavailable, "admin control is not available")
		return true
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		a, ok := ctl.GetAdmin(id)
		if !ok {
			writeError(w, http.StatusNotFound, "no backend with id "+strconv.Quote(clipText(id)))
			return true
		}
		writeJSON(w, http.StatusOK, viewAdmin(id, a))
	case http.MethodPut:
		s.putAdmin(w, r, ctl, id)
	case http.MethodDelete:
		a, err := ctl.ResetAdmin(id)
		if err != nil {
			writeAdminError(w, id, err)
			return true
		}
		writeJSON(w, http.StatusOK, viewAdmin(id, a))
	default:
		w.Header().Set("Allow", "GET, HEAD, PUT, DELETE")
		writeError(w, http.StatusMethodNotAllowed, "method not allowed")
	}
	return true
}

// knownBackend reports whether the whole path names a backend (its ID
// ending in "/admin"), so the admin route does not shadow it.
func (s *Server) knownBackend(escapedPath string) bool {
	id, err := url.PathUnescape(strings.TrimPrefix(escapedPath, backendsPrefix))
	if err != nil {
		return false
	}
	if snap := s.snapshot(); snap != nil {
		for i := range snap.Backends {
			if snap.Backends[i].ID == id {
				return true
			}
		}
	}
	return false
}

func (s *Server) putAdmin(w http.ResponseWriter, r *http.Request, ctl AdminController, id string) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAdminBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", maxAdminBody))
			return
		}
		writeError(w, http.StatusBadRequest, "reading the body failed")
		return
	}
	ch, err := decodeAdminChange(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if ch.Who == "" {
		ch.Who = apiUser(r)
	}
	a, err := ctl.SetAdmin(id, ch)
	if err != nil {
		writeAdminError(w, id, err)
		return
	}
	writeJSON(w, http.StatusOK, viewAdmin(id, a))
}

func writeAdminError(w http.ResponseWriter, id string, err error) {
	switch {
	case errors.Is(err, health.ErrUnknownBackend):
		writeError(w, http.StatusNotFound, "no backend with id "+strconv.Quote(clipText(id)))
	case errors.Is(err, health.ErrInvalidAdmin):
		writeError(w, http.StatusBadRequest, err.Error())
	default:
		writeError(w, http.StatusInternalServerError, "admin change failed")
	}
}

// apiUser is who made a change when the body does not say: the basic-auth
// user name, else "api".
func apiUser(r *http.Request) string {
	if user, _, ok := r.BasicAuth(); ok && user != "" && health.CheckAdminText("who", user, 128) == nil {
		return user
	}
	return "api"
}

// decodeAdminChange reads a PUT body strictly: one JSON object, known keys
// only, each at most once, no null, nothing after it.
func decodeAdminChange(body []byte) (health.AdminChange, error) {
	var ch health.AdminChange
	if !utf8.Valid(body) {
		// encoding/json would turn bad bytes into U+FFFD silently.
		return ch, errors.New("body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return ch, errors.New("body must be a JSON object")
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return ch, errors.New("body is not valid JSON")
		}
		key, _ := tok.(string)
		if seen[key] {
			return ch, fmt.Errorf("field %q given twice", clipText(key))
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return ch, errors.New("body is not valid JSON")
		}
		if bytes.Equal(raw, []byte("null")) {
			return ch, fmt.Errorf("field %q must not be null (leave it out to keep the value)", clipText(key))
		}
		if err := setAdminField(&ch, key, raw); err != nil {
			return ch, err
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return ch, errors.New("body is not valid JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return ch, errors.New("body must hold one JSON object and nothing after it")
	}
	return ch, nil
}

func setAdminField(ch *health.AdminChange, key string, raw json.RawMessage) error {
	str := func() (string, error) {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fmt.Errorf("field %q must be a string", key)
		}
		return s, nil
	}
	switch key {
	case "state":
		v, err := str()
		if err != nil {
			return err
		}
		st := health.AdminState(v)
		if st != health.AdminReady && st != health.AdminDrain && st != health.AdminMaint {
			return errors.New(`state must be "ready", "drain" or "maint"`)
		}
		ch.State = &st
	case "health":
		v, err := str()
		if err != nil {
			return err
		}
		h := health.ForcedHealth(v)
		if h != health.HealthAuto && h != health.HealthUp && h != health.HealthDown {
			return errors.New(`health must be "auto", "up" or "down"`)
		}
		ch.Health = &h
	case "weight":
		n, err := strconv.Atoi(string(raw))
		if err != nil || n < 0 || n > health.MaxWeight {
			return fmt.Errorf("weight must be an integer 0..%d", health.MaxWeight)
		}
		ch.Weight = &n
	case "checks_paused":
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return errors.New("checks_paused must be true or false")
		}
		ch.ChecksPaused = &b
	case "ttl":
		v, err := str()
		if err != nil {
			return err
		}
		d, err := parseTTL(v)
		if err != nil {
			return err
		}
		ch.TTL = d
	case "why":
		v, err := str()
		if err != nil {
			return err
		}
		if err := health.CheckAdminText("why", v, health.MaxWhyLen); err != nil {
			return errors.New(strings.TrimPrefix(err.Error(), health.ErrInvalidAdmin.Error()+": "))
		}
		ch.Why = &v
	case "who":
		v, err := str()
		if err != nil {
			return err
		}
		if err := health.CheckAdminText("who", v, 128); err != nil {
			return errors.New(strings.TrimPrefix(err.Error(), health.ErrInvalidAdmin.Error()+": "))
		}
		ch.Who = v
	default:
		return fmt.Errorf("unknown field %q (known: state, weight, health, checks_paused, ttl, why, who)", clipText(key))
	}
	return nil
}

// parseTTL reads a Go duration ("30m", "1h30m") or whole days ("7d"),
// 1s..30d.
func parseTTL(s string) (time.Duration, error) {
	var d time.Duration
	var err error
	if days, ok := strings.CutSuffix(s, "d"); ok && days != "" && !strings.ContainsAny(days, "hmsuµn.") {
		var n int
		n, err = strconv.Atoi(days)
		if err == nil && (n < 0 || n > 30) {
			return 0, errors.New("ttl must be 1s..30d")
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		d, err = time.ParseDuration(s)
	}
	if err != nil {
		return 0, fmt.Errorf("ttl %q is not a duration (like 30m, 2h or 7d)", clipText(s))
	}
	if d < minAdminTTL || d > maxAdminTTL {
		return 0, errors.New("ttl must be 1s..30d")
	}
	return d, nil
}

// clipText keeps client-supplied text in an error short (%q makes it
// printable).
func clipText(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
