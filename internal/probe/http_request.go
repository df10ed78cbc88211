package probe

import (
	"errors"
	"net/http"
	"slices"
	"strconv"

	"github.com/backline/backline/internal/config"
)

// checkRequest is the method and body an http check sends. Config refuses
// the same cases at load with the key's path and line; these errors are
// for targets built without it (Lua, tests). No error quotes the body: it
// may carry a credential.
func checkRequest(h *HTTPExpect) (method, body string, err error) {
	method = http.MethodGet
	if h == nil {
		return method, "", nil
	}
	if h.Method != "" {
		method = h.Method
	}
	if !config.CheckMethodAllowed(method) {
		return "", "", configErr("HTTP check method %q is not GET, HEAD, POST or OPTIONS", method)
	}
	if len(h.Body) > config.MaxCheckRequestBody {
		return "", "", configErr("HTTP check request body of %d bytes exceeds %d", len(h.Body), config.MaxCheckRequestBody)
	}
	if h.Body != "" && (method == http.MethodGet || method == http.MethodHead) {
		return "", "", configErr("HTTP check request body (%d bytes) with method %s: a %s request carries no body (use POST or OPTIONS, or send no body)", len(h.Body), method, method)
	}
	if method == http.MethodHead && h.Text != "" {
		return "", "", configErr("HTTP check expects a body text, but a HEAD answer has no body (use GET, or expect no text)")
	}
	return method, h.Body, nil
}

// withContentLength makes the check own the request's framing: a
// configured Content-Length or Transfer-Encoding is dropped (beta_health
// refuses them only with a body; sent without one, they announce a body
// that never comes, and the server waits for it), and a body goes with
// its Content-Length, after the other headers, whole, never chunked.
func withContentLength(headers []string, values map[string]string, body string) []string {
	out := headers[:0:0]
	for _, name := range headers {
		if name != "Content-Length" && name != "Transfer-Encoding" {
			out = append(out, name)
		}
	}
	delete(values, "Transfer-Encoding")
	delete(values, "Content-Length")
	if body == "" {
		return out
	}
	values["Content-Length"] = strconv.Itoa(len(body))
	return append(out, "Content-Length")
}

// writeRequest sends the request's lines and its body in one write (a
// server answering the head alone finds the body already sent). The
// transcript shows the body's length only: a body may be a login form or
// a token.
func (s *session) writeRequest(lines, shown []string, body string) error {
	err := s.writeLinesThen(lines, shown, body)
	if body != "" && !errors.Is(err, ErrUnsafeValue) {
		s.note("C: ", "<request body: "+strconv.Itoa(len(body))+" bytes>")
	}
	return err
}

// StatusPasses reports whether code is an answer the http check h passes
// on (nil h: the seed's 200 only): for a status another instance's probe
// saw (probe leases), judged by this instance's configuration.
func StatusPasses(code int, h *HTTPExpect) bool { return statusExpected(code, h) }

// drainStatus reports whether code is one of the check's drain_on_status
// answers: the backend is up but asks for no new traffic (see
// health's check drain).
func drainStatus(code int, h *HTTPExpect) bool {
	return h != nil && slices.Contains(h.DrainStatuses, code)
}
