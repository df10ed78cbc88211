package probe

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"net/textproto"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/backline/backline/internal/redact"
)

const (
	// maxHTTPHeader and maxHTTPBody bound what a check reads of a response;
	// the body is read only when its text is checked.
	maxHTTPHeader = 64 << 10
	maxHTTPBody   = 64 << 10

	httpUserAgent = "backline-healthcheck"
)

// checkHTTP sends one request (GET unless the check sets a method) and judges the status (seed rule: 200 only; a
// gateway's HTTPExpect lists its own) and, optionally, the body text.
func checkHTTP(s *session) error {
	t := s.target
	start := time.Now()
	path := t.RequestURI
	if t.HTTP != nil && t.HTTP.Path != "" {
		path = t.HTTP.Path
	}
	if path == "" {
		path = "/"
	}
	if strings.ContainsFunc(path, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return configErr("request_uri %q contains spaces or control characters", redact.RequestURI(path))
	}

	headers := []string{"Host", "User-Agent", "Accept", "Connection"}
	values := map[string]string{
		"Host":       s.hostHeader(),
		"User-Agent": httpUserAgent,
		"Accept":     "*/*",
		"Connection": "close",
	}
	if t.HTTP != nil {
		names := make([]string, 0, len(t.HTTP.Headers))
		for name := range t.HTTP.Headers {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			if !validHeaderName(name) {
				return configErr("header name %q is not a valid HTTP token", name)
			}
			key := textproto.CanonicalMIMEHeaderKey(name)
			if key == "Connection" {
				continue // one request per connection, always
			}
			value := t.HTTP.Headers[name]
			if hasLineBreak(value) {
				// Refused, not cleaned up: a value that was silently changed
				// would check something else than the operator wrote.
				return unsafeValue(ReasonConfig, "HTTP header %s not sent to %s", key, t.Address())
			}
			if _, seen := values[key]; !seen {
				headers = append(headers, key)
			}
			values[key] = value
		}
	}

	basic := ""
	if t.Username != "" && t.Password != "" {
		user, pass, _, err := s.credentials()
		if err != nil {
			return err
		}
		if strings.Contains(user, ":") {
			// RFC 7617 §2: the server splits at the first colon, so the
			// password would be checked for another user name.
			return wrapf(ReasonAuth, ErrUnsafeValue, "user name with a colon not sent to %s (HTTP Basic cannot carry it)", t.Address())
		}
		m, err := s.choose(advertised{Source: "static", Mechs: map[string]bool{"BASIC": true}})
		if err != nil {
			return err
		}
		s.res.Mechanism = m.String()
		basic = "Basic " + b64(user+":"+pass)
		if _, seen := values["Authorization"]; !seen {
			headers = append(headers[:1], append([]string{"Authorization"}, headers[1:]...)...)
		}
		values["Authorization"] = basic
	}

	method, body, err := checkRequest(t.HTTP)
	if err != nil {
		return err
	}
	headers = withContentLength(headers, values, body)
	s.withholdBody(body)
	lines := []string{method + " " + path + " HTTP/1.1"}
	// A request_uri may carry ?api_key=…; shown as the status API shows
	// it (free text's values would end at a quote and show the rest).
	shown := []string{method + " " + redact.RequestURI(path) + " HTTP/1.1"}
	for _, name := range headers {
		lines = append(lines, name+": "+values[name])
		shownValue := redact.HeaderValue(name, values[name])
		shown = append(shown, name+": "+shownValue)
		s.withholdHeader(values[name], shownValue)
	}
	lines, shown = append(lines, ""), append(shown, "")
	// writeRequest refuses the whole request if any line (Host comes from
	// the target and was not checked above) holds CR, LF or NUL.
	writeErr := s.writeRequest(lines, shown, body)
	if errors.Is(writeErr, ErrUnsafeValue) {
		return wrapf(Classify(writeErr), writeErr, "sending the HTTP request to %s", t.Address())
	}
	// A failed write is no verdict yet: a server may answer (a 404, a
	// 413) and close before it read the whole request, and the reset that
	// follows fails the rest of the write. Its answer is judged; without
	// one, the write's error is the cause.

	limited := bufio.NewReader(io.LimitReader(s.r, maxHTTPHeader+maxHTTPBody))
	resp, statusLine, err := s.readHTTPResponse(limited, method, path)
	if err != nil && writeErr != nil {
		return wrapf(Classify(writeErr), writeErr, "sending the HTTP request to %s", t.Address())
	}
	if err != nil {
		if !s.deadline.IsZero() && !time.Now().Before(s.deadline) {
			// bufio hands net/http a partial line without its deadline
			// error, which then reads as "malformed": it was a timeout.
			return wrapf(ReasonTimeout, headerRedacted{err}, "reading the HTTP response from %s: deep_timeout reached", t.Address())
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return protocolErr("HTTP response from %s ended early or its header exceeds %d bytes", t.Address(), maxHTTPHeader)
		}
		// net/http quotes the offending line in its error; it is the
		// server's text, so it is scrubbed and escaped like any other.
		if remoteTLSAlert(err) != "" {
			// crypto/tls's text, not the server's: kept as the cause, so
			// a refused client certificate is reported as one.
			return wrapf(ReasonTLS, err, "reading the HTTP response from %s", t.Address())
		}
		return failf(Classify(err), "reading the HTTP response from %s: %s", t.Address(), s.quoted(redact.ErrorText(err.Error())))
	}
	defer resp.Body.Close()

	if drainStatus(resp.StatusCode, t.HTTP) {
		s.res.DrainStatus = resp.StatusCode
		s.step("request", start)
		return nil
	}
	if !statusExpected(resp.StatusCode, t.HTTP) {
		msg := "HTTP request failed: " + s.quoted(statusLine)
		if basic != "" && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden) {
			return authErr("%s", msg)
		}
		return protocolErr("%s", msg)
	}
	if t.HTTP != nil && t.HTTP.Text != "" {
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxHTTPBody))
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			// A malformed trailer line is quoted like a head line.
			return failf(Classify(err), "reading the HTTP body from %s: %s", t.Address(), s.quoted(redact.ErrorText(err.Error())))
		}
		if !strings.Contains(string(body), t.HTTP.Text) {
			return protocolErr("HTTP response body (first %d bytes) does not contain %q", maxHTTPBody, shortText(t.HTTP.Text))
		}
	}
	s.step("request", start)
	return nil
}

// headerRedacted is err with the header line net/http may quote in it
// redacted (redact.ErrorText); errors.Is and As still see err.
type headerRedacted struct{ err error }

func (e headerRedacted) Error() string { return redact.ErrorText(e.err.Error()) }
func (e headerRedacted) Unwrap() error { return e.err }

func statusExpected(code int, expect *HTTPExpect) bool {
	if expect == nil {
		return code == http.StatusOK
	}
	if len(expect.Statuses) == 0 {
		return code >= 200 && code <= 204
	}
	for _, want := range expect.Statuses {
		if code == want {
			return true
		}
	}
	return false
}

// hostHeader is host[:port], the port left out when it is the scheme's default.
func (s *session) hostHeader() string {
	return hostHeaderFor(s.target.Host, s.target.Port, s.isTLS())
}

func hostHeaderFor(host string, port int, tls bool) string {
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	defaultPort := 80
	if tls {
		defaultPort = 443
	}
	if port == defaultPort {
		if strings.Contains(host, ":") {
			return "[" + host + "]"
		}
		return host
	}
	return joinHostPort(host, port)
}

func (s *session) noteResponse(statusLine string, h http.Header) {
	if !s.record {
		return
	}
	s.note("S: ", statusLine)
	names := make([]string, 0, len(h))
	for name := range h {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		for _, v := range h[name] {
			s.note("S: ", name+": "+redact.HeaderValue(name, v))
		}
	}
}

func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for _, c := range name {
		if c <= ' ' || c >= 0x7f || strings.ContainsRune("()<>@,;:\\\"/[]?={}", c) {
			return false
		}
	}
	return true
}

// shortText keeps an expected text short in an error: the error is in
// every failure's log line and in last_error, and the text may be 64 KiB.
func shortText(s string) string {
	const most = 64
	if len(s) <= most {
		return s
	}
	cut := most
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
