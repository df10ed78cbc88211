package gateway

import "net/http"

// setForwardedProtoHost is forwardedView.setForwardedProtoHost for r, as
// the tests call it.
func setForwardedProtoHost(h http.Header, r *http.Request, host []string, trusted trustedProxies) {
	v := newForwardedView(r, trusted)
	v.setForwardedProtoHost(h, host)
}

// trustedProto is forwardedView.proto for r, as the tests call it.
func trustedProto(r *http.Request, trusted trustedProxies) []string {
	v := newForwardedView(r, trusted)
	return v.proto()
}

// contains reports whether the peer at remoteAddr ("ip:port") is trusted,
// as forwardedView.fromTrustedProxy judges it.
func (t trustedProxies) contains(remoteAddr string) bool {
	v := newForwardedView(&http.Request{RemoteAddr: remoteAddr}, t)
	return v.fromTrustedProxy()
}
