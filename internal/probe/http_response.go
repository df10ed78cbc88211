package probe

import (
	"bufio"
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/backline/backline/internal/redact"
)

// maxInterimAnswers bounds the 1xx answers a check reads past before the
// final one: real servers send one or two (100 Continue, 103 Early
// Hints), a hostile one could send them until the deadline. The same
// bound as the gateway's for proxied answers.
const maxInterimAnswers = 5

// readHTTPResponse reads the answer the check judges, with each answer's
// status line and headers in the transcript; the status line is returned
// as shown. RFC 9110 §15.2: a client reads past any 1xx interim answer to
// the final one, whether it asked for one or not (100 Continue, 103 Early
// Hints). 101 is final (the check asks for no upgrade), and so is a 1xx
// the check lists in its expected or drain statuses, which it could not
// pass otherwise.
func (s *session) readHTTPResponse(r *bufio.Reader, method, path string) (*http.Response, string, error) {
	for interim := 0; ; interim++ {
		resp, err := http.ReadResponse(r, &http.Request{Method: method})
		if err != nil {
			return nil, "", err
		}
		// The server's reason phrase may echo the request target, key and
		// all (shownReason); the protocol and code are net/http's own.
		statusLine := resp.Proto + " " + resp.Status
		if code, reason, ok := strings.Cut(resp.Status, " "); ok {
			statusLine = resp.Proto + " " + code + " " + shownReason(reason, path)
		}
		s.noteResponse(statusLine, resp.Header)
		if !s.interim(resp.StatusCode) {
			return resp, statusLine, nil
		}
		resp.Body.Close() // http.NoBody: a 1xx answer has none
		if interim == maxInterimAnswers {
			return nil, "", protocolErr("more than %d interim (1xx) answers", maxInterimAnswers)
		}
	}
}

// interim reports whether code is a 1xx answer the check reads past.
func (s *session) interim(code int) bool {
	if code < 100 || code > 199 || code == http.StatusSwitchingProtocols {
		return false
	}
	if h := s.target.HTTP; h != nil && (slices.Contains(h.Statuses, code) || slices.Contains(h.DrainStatuses, code)) {
		return false
	}
	return true
}

// withholdBody makes the request body a secret of the session, so a
// server echoing it (in its reason phrase, a header, a malformed line)
// shows the placeholder: the whole body, and the credentials in it on
// their own, as redaction finds them in a form ("password=…", the way a
// query is read) or a JSON object (the string value of a key with a
// credential's name, at any depth). A server quoting "wrong password
// hunter2" echoes the value alone.
func (s *session) withholdBody(body string) {
	if body == "" {
		return
	}
	withheld := append([]string{body}, replacedParts(body, redact.Text(body))...)
	withheld = append(withheld, sensitiveJSONValues(body)...)
	s.withhold(withheld...)
}

// sensitiveJSONValues are the string values of body, read as JSON, whose
// key has a credential's name (redact.SensitiveParam); nil when body is
// not JSON. A body is at most config.MaxCheckRequestBody bytes.
func sensitiveJSONValues(body string) []string {
	var v any
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		return nil
	}
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				if str, ok := e.(string); ok && str != "" && redact.SensitiveParam(k) {
					out = append(out, str)
				}
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(v)
	return out
}
