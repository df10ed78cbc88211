package config

import (
	"fmt"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
)

// MaxCheckRequestBody bounds an http check's request body (request_body,
// beta_health's body): a health check is a small request, and the body is
// held in memory and sent on every check.
const MaxCheckRequestBody = 16 << 10

// CheckMethodAllowed reports whether an http check may send method (upper
// case): GET, HEAD and OPTIONS, which a health endpoint answers without
// side effects, and POST for endpoints that take a small request (Caddy's
// health_method, Traefik's method, blackbox's method).
func CheckMethodAllowed(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodOptions:
		return true
	}
	return false
}

// checkRequestKeys are the key paths of one http check's request and
// answer: a mail-side target's or a beta_health block's.
type checkRequestKeys struct {
	method, body, text, drain, expected string
}

// checkRequestFields is what validateCheckRequest reads and fills in.
type checkRequestFields struct {
	method   *string // upper-cased; GET when left out
	body     string
	text     string
	drain    []int
	expected []int
}

// validateCheckRequest checks the method, the body and drain_on_status of
// an http check, for targets and beta_health alike. No message quotes the
// body (it may carry a credential), only its length.
func validateCheckRequest(add func(path, format string, args ...any), written func(path string) bool, k checkRequestKeys, f checkRequestFields) {
	if written(k.method) {
		upper := strings.ToUpper(*f.method)
		if !CheckMethodAllowed(upper) {
			add(k.method, "must be GET, HEAD, POST or OPTIONS, got %q", *f.method)
		} else {
			*f.method = upper
		}
	} else {
		*f.method = http.MethodGet
	}
	method := *f.method
	methodKey := k.method[strings.LastIndexByte(k.method, '.')+1:]
	switch {
	case f.body == "" && written(k.body):
		// Most likely an empty ${VAR}: the check would post nothing.
		add(k.body, "must not be empty (leave it out to send no body)")
	case len(f.body) > MaxCheckRequestBody:
		add(k.body, "must be at most %d bytes, got %d", MaxCheckRequestBody, len(f.body))
	case f.body != "" && (method == http.MethodGet || method == http.MethodHead):
		// RFC 9110 §9.3.1: a body on GET has no meaning, and servers and
		// proxies in front of them may refuse or drop it.
		add(k.body, "needs %s POST or OPTIONS (a %s request carries no body)", methodKey, method)
	}
	if method == http.MethodHead && f.text != "" {
		add(k.text, "cannot be checked with %s HEAD (a HEAD answer has no body)", methodKey)
	}
	if len(f.drain) == 0 && written(k.drain) {
		add(k.drain, "must list at least one status (leave it out to never drain)")
	}
	for i, s := range f.drain {
		path := fmt.Sprintf("%s[%d]", k.drain, i)
		switch {
		case s < 100 || s > 599:
			add(path, "must be an HTTP status 100..599, got %d", s)
		case slices.Contains(f.expected, s):
			add(path, "%d is also in expected_status (an answer either passes or drains)", s)
		case slices.Contains(f.drain[:i], s):
			add(path, "lists %d twice", s)
		}
	}
}

// validateTargetCheckRequest is validateCheckRequest for a mail-side http
// target (request_method, request_body, drain_on_status).
func (v *validator) validateTargetCheckRequest(key func(string) string, t *Target) {
	validateCheckRequest(v.add, func(path string) bool { return v.written[path] },
		checkRequestKeys{key("request_method"), key("request_body"), key("expected_text"), key("drain_on_status"), key("expected_status")},
		checkRequestFields{&t.RequestMethod, t.RequestBody, t.ExpectedText, t.DrainOnStatus, t.ExpectedStatus})
}

// validateHealthRequest is validateCheckRequest for beta_health (method,
// body, drain_on_status). With a body, the check owns Content-Length and
// sends no Transfer-Encoding: headers naming them are refused.
func (v *gatewayValidator) validateHealthRequest(path string, h *BackendHealth) {
	written := func(p string) bool { return v.c.Lines[p] > 0 }
	validateCheckRequest(v.add, written,
		checkRequestKeys{path + ".method", path + ".body", path + ".expected_text", path + ".drain_on_status", path + ".expected_status"},
		checkRequestFields{&h.Method, h.Body, h.ExpectedText, h.DrainOnStatus, h.ExpectedStatus})
	if h.Body == "" {
		return
	}
	for name := range h.Headers {
		switch textproto.CanonicalMIMEHeaderKey(name) {
		case "Content-Length", "Transfer-Encoding":
			v.add(path+".headers."+name, "is set by the check itself when it sends a body")
		}
	}
}
