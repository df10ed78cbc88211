package gateway

import (
	"net/http"
	"net/netip"
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
// add them with proxy_set_header. What a client sent under these names is
// replaced, unless the client is a trusted proxy (gateway.trusted_proxies:
// a load balancer that terminated TLS in front of the gateway), whose
// values are passed on, as Caddy does: a client claiming https cannot be
// believed, a load balancer that knows must be. They are set before any
// modifier runs, so set_/remove_request_headers still have the last word.
// X-Forwarded-For is different: sendLayer appends to it, as nginx's
// $proxy_add_x_forwarded_for does.
//
// host, when not empty, is a one-value slice to hold r.Host (the header
// clone has a spare slot for it); else one is allocated.
func (v *forwardedView) setForwardedProtoHost(h http.Header, host []string) {
	dropForwardedAliases(h)
	if v.fromTrustedProxy() {
		keepForwarded(h, v, host)
		return
	}
	h["X-Forwarded-Proto"] = forwardedProtoValue(v.r)
	setForwardedHost(h, v.r, "", host)
}

// setForwardedHost sets X-Forwarded-Host to value, or, when it is "",
// to the Host r came with (none for HTTP/1.0 without Host). host, when
// not empty, is a one-value slice to hold it (the header clone has a
// spare slot for it); else one is allocated.
func setForwardedHost(h http.Header, r *http.Request, value string, host []string) {
	if value == "" {
		if r.Host == "" { // HTTP/1.0 without Host
			delete(h, "X-Forwarded-Host")
			return
		}
		// Both net/http servers refuse control bytes in Host and
		// :authority; headerValue keeps it so should that change (no
		// copy when clean).
		value = headerValue(r.Host)
	}
	if len(host) == 0 {
		host = make([]string, 1)
	}
	host[0] = value
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

// keepForwarded passes on a trusted proxy's X-Forwarded-Proto (the
// client's scheme read from it, one value: forwardedView.proto) and
// X-Forwarded-Host (the client's host read from it, one value:
// forwardedView.host) and sets what it did not send or could not say.
// The host is read from h, the client's fields less those its Connection
// named.
func keepForwarded(h http.Header, v *forwardedView, host []string) {
	if p := v.proto(); p != nil {
		h["X-Forwarded-Proto"] = p
	} else {
		h["X-Forwarded-Proto"] = forwardedProtoValue(v.r)
	}
	setForwardedHost(h, v.r, v.host(h["X-Forwarded-Host"]), host)
}

// host is the client's Host as a trusted proxy's X-Forwarded-Host lines
// values tell it, "" when they tell nothing (the gateway's own view
// holds). It is read where the scheme is (listElement): in a list from
// proxies that append, the elements left of that place are what the
// client sent itself, and the first of them must not become the origin's
// idea of its own name (the links of a password reset mail, say). An
// element that is not a host[:port] (validForwardedHost) tells nothing.
func (v *forwardedView) host(values []string) string {
	if e := v.listElement(values); validForwardedHost(e) {
		return e
	}
	return ""
}

// forwardedOf is what X-Forwarded-Proto and X-Forwarded-Host say about r's
// client for a request built anew (a request block): a trusted proxy's
// values when it sent them, else the gateway's own.
func forwardedOf(r *http.Request, trusted trustedProxies) (proto []string, host string) {
	v := newForwardedView(r, trusted)
	return v.forwarded()
}

// forwarded is forwardedOf for the request v describes.
func (v *forwardedView) forwarded() (proto []string, host string) {
	r := v.r
	proto, host = forwardedProtoValue(r), headerValue(r.Host)
	if !v.fromTrustedProxy() {
		return proto, host
	}
	if p := v.proto(); p != nil {
		proto = p
	}
	if e := v.host(r.Header["X-Forwarded-Host"]); e != "" {
		host = e
	}
	return proto, host
}

// trustedProxies are gateway.trusted_proxies; nil trusts nobody and costs
// nothing per request.
type trustedProxies []netip.Prefix

// containsAddr reports whether a is a trusted proxy's address. It is the
// one rule for every trust decision (X-Forwarded-Proto and -Host, the
// X-Forwarded-For walk): a is judged without its IPv6 zone and with an
// IPv4-mapped address as IPv4. A link-local peer (fe80::1%eth0) is
// trusted when its address is in a listed prefix (fe80::/10, which
// private_ranges includes), on whichever interface it came in, as Caddy
// judges it; net/netip's Prefix.Contains alone would never match an
// address with a zone, so a zone must not decide. trusted_proxies
// entries cannot name a zone (config refuses one).
func (t trustedProxies) containsAddr(a netip.Addr) bool {
	a = trustForm(a)
	for _, p := range t {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// trustForm is a as trust and the client address see it: IPv4-mapped
// IPv6 as IPv4, no zone.
func trustForm(a netip.Addr) netip.Addr {
	a = a.Unmap()
	if a.Zone() != "" {
		a = a.WithZone("")
	}
	return a
}
