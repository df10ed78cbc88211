package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
)

// maxExplainBody bounds POST /api/v1/explain: the request is four short
// fields.
const maxExplainBody = 4 << 10

// explainRequest is the body of POST /api/v1/explain. No password: explain
// answers where a successful login would go.
type explainRequest struct {
	Username  string          `json:"username"`
	Protocol  string          `json:"protocol"`
	ClientIP  string          `json:"client_ip"`
	LocalPort json.RawMessage `json:"local_port"`
	Service   string          `json:"service"`
}

// explainAnswer is the dry run's result: the selection as it is.
type explainAnswer struct {
	Status     string         `json:"status"` // ok | tempfail | no_backend | rejected
	Backend    *ChosenBackend `json:"backend"`
	SelectedBy string         `json:"selected_by"`
	Panic      bool           `json:"panic"`
	// Backup: the chosen backend is a backup target (reason says why).
	Backup        bool        `json:"backup"`
	SnapshotRound uint64      `json:"snapshot_round"`
	Candidates    []Candidate `json:"candidates"`
	Reason        string      `json:"reason,omitempty"`
	FilterResults []string    `json:"filter_results,omitempty"`
	// Affinity: under the sticky policy, the user's stored backend and
	// whether it was used (explain reads it, never writes or refreshes it).
	Affinity *AffinityInfo `json:"affinity,omitempty"`
	// SuppressedEffects are the filters' side effects the dry run skipped
	// ("filter: nauthilus_cache.cache_set"): with them skipped, a filter
	// may choose differently than it would for a real login. Always
	// present, [] when nothing was skipped: on a tempfail it is where to
	// look first (a filter that raises on a skipped call).
	SuppressedEffects []string `json:"suppressed_side_effects"`
}

// serveExplain is a dry run of one successful login's selection: the
// filters run against the same pinned snapshot, then the policy, with no
// cache lookup or write, no round-robin advance, no metrics and no request
// log line. The filters run in dry-run mode (lua.Request.DryRun): their
// module writes (nauthilus_cache, nauthilus_prometheus, nauthilus_redis,
// mail, non-GET HTTP) are skipped and listed in the answer; reads, a
// connection check and a log line of their own still happen.
func (h *Handler) serveExplain(w http.ResponseWriter, r *http.Request) {
	req, err := parseExplain(w, r)
	if err != nil {
		// Nothing ran, so nothing was suppressed; the key is there all the
		// same, so a client reads one shape.
		writeExplainJSON(w, http.StatusBadRequest, struct {
			Error             string   `json:"error"`
			SuppressedEffects []string `json:"suppressed_side_effects"`
		}{reasonText(err.Error()), []string{}})
		return
	}
	writeExplainJSON(w, http.StatusOK, h.explain(context.WithoutCancel(r.Context()), req))
}

// explain settles the selection for req the way serve does for a login that
// passed its password check.
func (h *Handler) explain(ctx context.Context, req *Request) explainAnswer {
	snap := h.snapshot()
	req.snap = snap
	in := selectInput{snap: snap, user: req.Username, protocol: req.Protocol, dry: true}
	var results, suppressed []string
	if h.filters != nil {
		out, err := h.filters.runFilters(ctx, filterRequest{
			Request: req, Session: newSessionID(h.now()),
			Authenticated: true, UserFound: true, Account: req.Username,
			Snapshot: snap, DryRun: true,
		})
		if err != nil {
			ans := explainAnswer{Status: selTempfail, Reason: "lua filter: " + err.Error(), Candidates: []Candidate{},
				SuppressedEffects: suppressedByError(err)}
			if snap != nil {
				ans.SnapshotRound = snap.Round
			}
			return ans
		}
		if out != nil {
			results = out.Results
			if out.Reject {
				ans := explainAnswer{Status: "rejected", Reason: "rejected by filter " + strings.Join(out.Rejected, ","),
					FilterResults: results, Candidates: []Candidate{}, SuppressedEffects: nonNil(out.Suppressed)}
				if snap != nil {
					ans.SnapshotRound = snap.Round
				}
				return ans
			}
			in.filterHost, in.filterPort, in.filterName = out.SelectedHost, out.SelectedPort, out.SelectedBy
			suppressed = out.Suppressed
		}
	}
	sel := h.settle(in)
	ans := explainAnswer{
		Status: sel.Status, Backend: sel.Backend, SelectedBy: sel.SelectedBy, Panic: sel.Panic, Backup: sel.Backup,
		SnapshotRound: sel.Round, Candidates: sel.Candidates, Reason: sel.Reason(), FilterResults: results,
		Affinity: sel.Affinity, SuppressedEffects: suppressed,
	}
	if ans.Candidates == nil {
		ans.Candidates = []Candidate{}
	}
	if ans.SuppressedEffects == nil {
		ans.SuppressedEffects = []string{}
	}
	// header and json answer without a backend when none is configured for
	// the protocol; nginx cannot.
	if sel.Unmanaged && req.Service != "nginx" {
		ans.Status, ans.SelectedBy = selOK, ""
	}
	return ans
}

// parseExplain reads and checks the body: unknown fields, a repeated key,
// trailing data, control characters and a malformed IP are refused.
func parseExplain(w http.ResponseWriter, r *http.Request) (*Request, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxExplainBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, fmt.Errorf("request body larger than %d bytes", maxExplainBody)
		}
		return nil, fmt.Errorf("reading request body: %v", err)
	}
	var in explainRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("invalid JSON body: empty body")
		}
		return nil, fmt.Errorf("invalid JSON body: %v", err)
	}
	if dec.More() {
		return nil, errors.New("invalid JSON body: more than one JSON value")
	}
	if key := duplicateJSONKey(body); key != "" {
		return nil, fmt.Errorf("invalid JSON body: key %q is sent more than once", key)
	}
	req := &Request{Username: in.Username, Protocol: in.Protocol, ClientIP: in.ClientIP, Service: in.Service}
	switch {
	case in.Username == "":
		return nil, errors.New("username is required")
	case len(in.Username) > maxUsernameBytes:
		return nil, fmt.Errorf("username longer than %d bytes", maxUsernameBytes)
	case hasControl(in.Username):
		return nil, errors.New("username contains control characters")
	case !ValidProtocolName(in.Protocol):
		return nil, fmt.Errorf("protocol %s is not a protocol name (imap, pop3, smtp, ...)", quoteValue(in.Protocol))
	}
	switch in.Service {
	case "":
		req.Service = "nginx"
	case "nginx", "header", "json":
	default:
		return nil, fmt.Errorf("service %s is not nginx, header or json", quoteValue(in.Service))
	}
	if in.ClientIP != "" {
		if _, err := netip.ParseAddr(in.ClientIP); err != nil {
			return nil, fmt.Errorf("client_ip %s is not an IP address", quoteValue(in.ClientIP))
		}
	}
	if len(in.LocalPort) > 0 && string(in.LocalPort) != "null" {
		// 143 and "143" both: the auth endpoints take strings.
		s := strings.Trim(string(in.LocalPort), `"`)
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 65535 {
			return nil, fmt.Errorf("local_port %s is not a port number", quoteValue(s))
		}
		req.LocalPort = strconv.Itoa(n)
	}
	return req, nil
}

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// ValidProtocolName accepts short lower-case names such as imap or
// submission; anything else cannot match a target. The explain and
// affinity APIs refuse other names, and backline ctl checks --protocol
// with it before asking them.
func ValidProtocolName(p string) bool {
	if p == "" || len(p) > 32 {
		return false
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func writeExplainJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
