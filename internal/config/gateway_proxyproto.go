package config

// The PROXY protocol versions a backend can send to its origins
// (proxy_protocol), as Caddy's proxy_protocol v1|v2, Traefik's
// serversTransport proxyProtocol.version and HAProxy's send-proxy and
// send-proxy-v2.
const (
	ProxyProtocolV1 = "v1"
	ProxyProtocolV2 = "v2"
)

// validateProxyProtocol checks proxy_protocol. A forward proxy (proxy)
// cannot carry it: the header would go to the proxy, which would take it
// for the start of a request, and not to the origin.
func (v *gatewayValidator) validateProxyProtocol(path string, b *Backend) {
	switch b.ProxyProtocol {
	case "":
		return
	case ProxyProtocolV1, ProxyProtocolV2:
	default:
		v.add(path+".proxy_protocol", "must be %q or %q, got %q", ProxyProtocolV1, ProxyProtocolV2, b.ProxyProtocol)
		return
	}
	if b.Proxy != "" {
		v.add(path+".proxy_protocol", "cannot be used with proxy: the PROXY header must reach the origin, not a forward proxy; remove one of them")
	}
}
