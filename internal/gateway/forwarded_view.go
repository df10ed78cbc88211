package gateway

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// forwardedView is what one request's connection and forwarding headers
// say about its client, each part worked out once and only when first
// asked: the TCP peer's address, whether it is a trusted proxy, and the
// walk of X-Forwarded-For past the trusted proxies, which the reads of
// both lists (scheme and host) need. A value on the caller's stack: no
// allocation.
type forwardedView struct {
	r       *http.Request
	trusted trustedProxies

	// What is worked out, each known once its flag is set.
	peerIP string     // split: the host of RemoteAddr, zone included
	peer   netip.Addr // parsed: its address in trustForm
	client netip.Addr // walked: the client's address, clientPlace
	pos    int        // walked: its place in X-Forwarded-For

	split, parsed, judged, walked bool
	peerIPOK, peerOK, clientOK    bool
	peerTrust                     bool // judged: the peer is a trusted proxy
}

func newForwardedView(r *http.Request, trusted trustedProxies) forwardedView {
	return forwardedView{r: r, trusted: trusted}
}

// peerHost is the host part of the TCP peer's "ip:port", zone included.
func (v *forwardedView) peerHost() (string, bool) {
	if !v.split {
		host, _, err := net.SplitHostPort(v.r.RemoteAddr)
		v.peerIP, v.peerIPOK, v.split = host, err == nil, true
	}
	return v.peerIP, v.peerIPOK
}

// clientIP is clientIP(v.r).
func (v *forwardedView) clientIP() string {
	host, ok := v.peerHost()
	if !ok {
		return ""
	}
	if i := strings.IndexByte(host, '%'); i >= 0 {
		host = host[:i]
	}
	return host
}

// peerAddr is the TCP peer's address, in trustForm.
func (v *forwardedView) peerAddr() (netip.Addr, bool) {
	if !v.parsed {
		v.parsed = true
		host, ok := v.peerHost()
		if !ok {
			return netip.Addr{}, false
		}
		a, err := netip.ParseAddr(host)
		if err != nil {
			return netip.Addr{}, false
		}
		v.peer, v.peerOK = trustForm(a), true
	}
	return v.peer, v.peerOK
}

// fromTrustedProxy reports whether the peer is in gateway.trusted_proxies
// (trustedProxies.containsAddr); with nobody trusted it costs nothing.
func (v *forwardedView) fromTrustedProxy() bool {
	if len(v.trusted) == 0 {
		return false
	}
	if !v.judged {
		a, ok := v.peerAddr()
		v.peerTrust, v.judged = ok && v.trusted.containsAddr(a), true
	}
	return v.peerTrust
}

// clientPlace is the client's address as the gateway sees it (clientAddr)
// and its entry in X-Forwarded-For counted from the right: pos 1 is the
// entry the nearest proxy wrote, 0 means the client is the TCP peer.
func (v *forwardedView) clientPlace() (addr netip.Addr, pos int, ok bool) {
	if !v.walked {
		v.client, v.pos, v.clientOK = v.walkForwardedFor()
		v.walked = true
	}
	return v.client, v.pos, v.clientOK
}

// listElement is the element of a trusted proxy's X-Forwarded-Proto or
// X-Forwarded-Host (lines values) that tells of the client's own hop,
// without the spaces and tabs around it; "" when values tell nothing.
// A single value is the proxy's word, as one proxy sets it (no walk). A
// list, from proxies that append one element per hop, is read as far
// from the right as the client's entry in X-Forwarded-For less one:
// elements further left are what the client sent itself (forwardedView.proto).
func (v *forwardedView) listElement(values []string) string {
	switch {
	case len(values) == 0:
		return ""
	case len(values) == 1 && strings.IndexByte(values[0], ',') < 0:
		return strings.Trim(values[0], " \t")
	}
	_, pos, _ := v.clientPlace()
	return elementFromRight(values, max(pos-1, 0))
}
