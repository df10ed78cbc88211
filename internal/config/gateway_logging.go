package config

import (
	"net/textproto"
	"strings"
)

// GatewayRequestID configures the request id (Couper's settings
// request_id_backend_header, request_id_client_header and
// request_id_accept_from_header). A header set to "" is not sent.
type GatewayRequestID struct {
	BackendHeader    *string `yaml:"backend_header"`
	ClientHeader     *string `yaml:"client_header"`
	AcceptFromHeader string  `yaml:"accept_from_header"`
	// Format is common (a process prefix and a counter) or uuid4
	// (Couper's request_id_format).
	Format string `yaml:"format"`
}

// Request id formats.
const (
	RequestIDCommon = "common"
	RequestIDUUID4  = "uuid4"
)

// DefaultRequestIDHeader is Couper's header name for the request id, sent
// upstream and to the client.
const DefaultRequestIDHeader = "Couper-Request-Id"

// AccessLogEnabled reports whether a line is logged per request (default on).
func (g *Gateway) AccessLogEnabled() bool { return g.AccessLog == nil || *g.AccessLog }

// requestIDHeadersForbidden are headers the id must not replace: framing,
// routing, credentials, and Date (the gateway writes one when the origin
// sent none).
var requestIDHeadersForbidden = map[string]bool{
	"Host": true, "Content-Length": true, "Transfer-Encoding": true, "Connection": true,
	"Upgrade": true, "Te": true, "Trailer": true, "Keep-Alive": true, "Proxy-Connection": true,
	"Authorization": true, "Proxy-Authorization": true, "Cookie": true, "Set-Cookie": true,
	"Content-Type": true, "Content-Encoding": true, "Expect": true, "Date": true,
}

func (v *gatewayValidator) validateRequestID(g *Gateway) {
	r := &g.RequestID
	path := "gateway.request_id"
	for _, h := range []struct {
		key   string
		value **string
	}{{"backend_header", &r.BackendHeader}, {"client_header", &r.ClientHeader}} {
		if *h.value == nil {
			def := DefaultRequestIDHeader
			*h.value = &def
			continue
		}
		v.checkIDHeader(path+"."+h.key, **h.value)
	}
	if r.AcceptFromHeader != "" {
		v.checkIDHeader(path+".accept_from_header", r.AcceptFromHeader)
	}
	r.Format = strings.ToLower(strings.TrimSpace(r.Format))
	switch r.Format {
	case "":
		r.Format = RequestIDCommon
	case RequestIDCommon, RequestIDUUID4:
	default:
		v.add(path+".format", "unsupported request id format %q; use common or uuid4", r.Format)
	}
}

func (v *gatewayValidator) checkIDHeader(path, name string) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
	case !validToken(name):
		v.add(path, "%q is not a valid HTTP header name", name)
	case requestIDHeadersForbidden[textproto.CanonicalMIMEHeaderKey(name)]:
		v.add(path, "%q cannot carry the request id (it frames, routes or authenticates the request)", name)
	}
}
