package lua

import (
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"net/url"
	"sort"
	"strings"
	"sync"

	"golang.org/x/net/http/httpguts"

	"github.com/backline/backline/internal/textutil"
)

// HTTPExchange is the HTTP request an auth run serves, as
// nauthilus_http_request reads it, and the response headers and status
// nauthilus_http_response sets on the answer. The caller fills the request
// side before the first run and reads the response side after the last;
// parallel filters of one request share it, so the response side is locked.
type HTTPExchange struct {
	Method string
	// Path is the URL path, without the query string.
	Path  string
	Query url.Values
	// Header is the request's headers (canonical keys). The caller removes
	// what scripts must not see (the password header, Authorization).
	Header http.Header
	// Body is the request body, already read and bounded by the caller;
	// BodyErr, when set, is why it is not available (too large).
	Body    []byte
	BodyErr string
	// hidden are the canonical names of headers scripts must not see.
	hidden map[string]bool

	mu        sync.Mutex
	resp      http.Header
	respBytes int
	status    int
}

// hiddenRequestHeaders are credentials for backline itself (the API's
// basic auth, Dovecot's Authorization): never shown to scripts.
var hiddenRequestHeaders = []string{"Authorization", "Proxy-Authorization"}

// HiddenHeaders is the set of request headers scripts must not see:
// hiddenRequestHeaders and the caller's (the password header). Built once
// per handler, shared by every request's exchange.
type HiddenHeaders struct{ keys map[string]bool }

// NewHiddenHeaders hides hiddenRequestHeaders and names.
func NewHiddenHeaders(names ...string) *HiddenHeaders {
	h := &HiddenHeaders{keys: map[string]bool{}}
	for _, name := range append(append([]string(nil), hiddenRequestHeaders...), names...) {
		h.keys[textproto.CanonicalMIMEHeaderKey(name)] = true
	}
	return h
}

// NewHTTPExchange describes r for scripts: its method, path, query and
// headers, minus the hidden ones, and body as the endpoint read it
// (bodyErr when it could not be kept). The request's header map is shared,
// not copied (this runs for every request when filters are configured);
// hidden headers are skipped on every read instead.
func NewHTTPExchange(r *http.Request, body []byte, bodyErr string, hidden *HiddenHeaders) *HTTPExchange {
	if hidden == nil {
		hidden = defaultHidden
	}
	x := &HTTPExchange{Method: r.Method, Path: r.URL.Path, Header: r.Header, Body: body, BodyErr: bodyErr, hidden: hidden.keys}
	if r.URL.RawQuery != "" {
		x.Query = r.URL.Query()
	}
	return x
}

var defaultHidden = NewHiddenHeaders()

// visible says whether scripts may see the header stored under key.
func (x *HTTPExchange) visible(key string) bool {
	return !x.hidden[textproto.CanonicalMIMEHeaderKey(key)]
}

// Limits on what scripts may add to one answer: far above what a filter
// needs, and small enough that no script can make the answer the problem.
const (
	maxResponseHeaderValues = 64
	maxResponseHeaderBytes  = 16 << 10
	maxResponseNameBytes    = 128
	maxResponseValueBytes   = 4 << 10
)

// reservedResponseHeaders are the answer's own headers and the framing
// net/http owns: a script setting them would change what the auth answer
// means (Auth-Status, Auth-Server...) or break the HTTP message.
var reservedResponseHeaders = map[string]string{
	"Connection":               "hop-by-hop",
	"Keep-Alive":               "hop-by-hop",
	"Proxy-Connection":         "hop-by-hop",
	"Proxy-Authenticate":       "hop-by-hop",
	"Proxy-Authorization":      "hop-by-hop",
	"Te":                       "hop-by-hop",
	"Trailer":                  "hop-by-hop",
	"Transfer-Encoding":        "hop-by-hop",
	"Upgrade":                  "hop-by-hop",
	"Content-Length":           "message framing",
	"Content-Type":             "set by the endpoint",
	"Content-Encoding":         "set by the endpoint",
	"X-Nauthilus-Session":      "set by the endpoint",
	"X-Nauthilus-Memory-Cache": "set by the endpoint",
}

// CheckResponseHeader says why a script may not set name to value, or "".
// Every Auth-* header is refused: nginx and Dovecot read them as the answer.
func CheckResponseHeader(name, value string) string {
	if name == "" || len(name) > maxResponseNameBytes || !httpguts.ValidHeaderFieldName(name) {
		return fmt.Sprintf("invalid header name %q", truncateForError(name))
	}
	if len(value) > maxResponseValueBytes {
		return fmt.Sprintf("header %s: value longer than %d bytes", name, maxResponseValueBytes)
	}
	if !httpguts.ValidHeaderFieldValue(value) || strings.ContainsAny(value, "\r\n\x00") {
		return fmt.Sprintf("header %s: value contains control characters", name)
	}
	key := textproto.CanonicalMIMEHeaderKey(name)
	if why, ok := reservedResponseHeaders[key]; ok {
		return fmt.Sprintf("header %s may not be set by a script (%s)", key, why)
	}
	if strings.HasPrefix(key, "Auth-") {
		return fmt.Sprintf("header %s may not be set by a script (the auth answer's own)", key)
	}
	return ""
}

func truncateForError(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

var errResponseHeaderBudget = errors.New("too many response headers set by scripts")

// setHeader replaces (add=false) or appends a response header.
func (x *HTTPExchange) setHeader(name, value string, add bool) error {
	if why := CheckResponseHeader(name, value); why != "" {
		return errors.New(why)
	}
	key := textproto.CanonicalMIMEHeaderKey(name)
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.resp == nil {
		x.resp = http.Header{}
	}
	old := x.resp[key]
	size, count := x.respBytes, 0
	for _, vs := range x.resp {
		count += len(vs)
	}
	if !add {
		for _, v := range old {
			size -= len(key) + len(v)
		}
		count -= len(old)
	}
	if count+1 > maxResponseHeaderValues || size+len(key)+len(value) > maxResponseHeaderBytes {
		return errResponseHeaderBudget
	}
	if add {
		x.resp[key] = append(old, value)
	} else {
		x.resp[key] = []string{value}
	}
	x.respBytes = size + len(key) + len(value)
	return nil
}

func (x *HTTPExchange) removeHeader(name string) {
	key := textproto.CanonicalMIMEHeaderKey(name)
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, v := range x.resp[key] {
		x.respBytes -= len(key) + len(v)
	}
	delete(x.resp, key)
}

// setStatus records an answer status; only 200-599 are HTTP answers.
func (x *HTTPExchange) setStatus(code int) error {
	if code < 200 || code > 599 {
		return fmt.Errorf("status %d is not an answer status (200-599)", code)
	}
	x.mu.Lock()
	x.status = code
	x.mu.Unlock()
	return nil
}

// ResponseHeaders returns a copy of the headers scripts set, nil if none.
func (x *HTTPExchange) ResponseHeaders() http.Header {
	if x == nil {
		return nil
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if len(x.resp) == 0 {
		return nil
	}
	return x.resp.Clone()
}

// ResponseHeaderNames lists the set header names, sorted.
func ResponseHeaderNames(h http.Header) []string {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// Status is the status a script set, 0 if none.
func (x *HTTPExchange) Status() int {
	if x == nil {
		return 0
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.status
}

// requestHeader returns name's values (case-insensitive).
func (x *HTTPExchange) requestHeader(name string) []string {
	if !x.visible(name) {
		return nil
	}
	if vs, ok := x.Header[textproto.CanonicalMIMEHeaderKey(name)]; ok {
		return vs
	}
	// A name net/http could not canonicalise is stored as sent.
	for k, vs := range x.Header {
		if strings.EqualFold(k, name) && x.visible(k) {
			return vs
		}
	}
	return nil
}

// urlPartialDecode decodes the valid %XX escapes and keeps every other
// byte, invalid escapes included ('+' stays '+').
func urlPartialDecode(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && textutil.IsHexDigit(s[i+1]) && textutil.IsHexDigit(s[i+2]) {
			out = append(out, textutil.HexDigitValue(s[i+1])<<4|textutil.HexDigitValue(s[i+2]))
			i += 2
			continue
		}
		out = append(out, s[i])
	}
	return string(out)
}

// SetResponseHeaderForTest is set_http_response_header for other
// packages' tests (no script needed to fill an exchange).
func SetResponseHeaderForTest(x *HTTPExchange, name, value string) error {
	return x.setHeader(name, value, false)
}
