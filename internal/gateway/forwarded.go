package gateway

import (
	"net/http"
	"strings"
)

// The X-Forwarded-Proto values, shared by every request: a header value
// slice is never written in place (Header.Add appends, and with len == cap
// that copies first; Set and the modifiers replace the slice), so one
// read-only slice each saves an allocation per request.
var (
	forwardedProtoHTTPS = []string{"https"}
	forwardedProtoHTTP  = []string{"http"}
)

// setForwardedProtoHost sets X-Forwarded-Proto (how the client reached
// the gateway: https when its connection was TLS, HTTP/1 or h2) and
// X-Forwarded-Host (the Host it sent), as Caddy and Envoy do; nginx users
// add them with proxy_set_header. Whatever the client sent under these
// names is replaced: backline has no notion of a trusted peer, so a client
// claiming https cannot be believed. They are set before any modifier
// runs, so set_/remove_request_headers still have the last word.
// X-Forwarded-For is different: sendLayer appends to it, as nginx's
// $proxy_add_x_forwarded_for does.
//
// host, when not empty, is a one-value slice to hold r.Host (the header
// clone has a spare slot for it); else one is allocated.
func setForwardedProtoHost(h http.Header, r *http.Request, host []string) {
	dropForwardedAliases(h)
	h["X-Forwarded-Proto"] = forwardedProtoValue(r)
	if r.Host == "" { // HTTP/1.0 without Host
		delete(h, "X-Forwarded-Host")
		return
	}
	if len(host) == 0 {
		host = make([]string, 1)
	}
	// Both net/http servers refuse control bytes in Host and :authority;
	// headerValue keeps it so should that change (no copy when clean).
	host[0] = headerValue(r.Host)
	h["X-Forwarded-Host"] = host[:1:1]
}

// forwardedProtoValue is the shared X-Forwarded-Proto value for r.
func forwardedProtoValue(r *http.Request) []string {
	if r.TLS != nil {
		return forwardedProtoHTTPS
	}
	return forwardedProtoHTTP
}

// dropForwardedAliases deletes fields such as X_Forwarded_Proto: net/http
// keeps them apart from X-Forwarded-Proto, but CGI, WSGI, Rack and PHP
// origins read both as HTTP_X_FORWARDED_PROTO, so a client could still say
// https (nginx drops underscored names by default for the same reason).
func dropForwardedAliases(h http.Header) {
	for k := range h {
		if strings.IndexByte(k, '_') < 0 {
			continue
		}
		if a := strings.ReplaceAll(k, "_", "-"); strings.EqualFold(a, "X-Forwarded-Proto") || strings.EqualFold(a, "X-Forwarded-Host") {
			delete(h, k)
		}
	}
}
