package server

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// refuseRebinding guards an API without api_auth on a loopback listener
// against DNS rebinding: a web page whose name was made to resolve to
// 127.0.0.1 reaches the API from a browser on this host with requests that
// look same-origin, but they name the page's host in Host. Local clients
// name an address or localhost. With api_auth, or on a listener others
// can reach anyway (which the daemon warns about), nothing is checked.
// The auth endpoints and the liveness and readiness checks are left out:
// nginx or Dovecot on this host may name the API by a host name (auth_http
// http://backline:9080/...), and a login path that breaks on upgrade costs
// more than a password oracle for a rebinding page.
func (s *Server) refuseRebinding(a apiAuth, next http.Handler) http.Handler {
	if a.enabled() {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if addr := s.addr.Load(); addr != nil && isLoopback(*addr) && !localHostHeader(r.Host) &&
			!sameHost(r.Host, s.opts.Address) && !rebindingExempt(r.URL.Path) {
			writeError(w, http.StatusMisdirectedRequest,
				"this API listens on loopback without server.api_auth and answers requests for an IP address or localhost only")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// localHostHeader: Host is empty (HTTP/1.0), an IP address or localhost.
func localHostHeader(hostport string) bool {
	if hostport == "" {
		return true
	}
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	return strings.EqualFold(strings.TrimSuffix(host, "."), "localhost")
}

func rebindingExempt(path string) bool {
	return strings.HasPrefix(path, "/api/v1/auth/") || path == "/healthz" || path == "/readyz"
}

// sameHost: the Host header names the host of server.address (a name for
// loopback the operator chose, which ctl --config uses as well).
func sameHost(hostport, address string) bool {
	h, _, err := net.SplitHostPort(address)
	if err != nil || h == "" {
		return false
	}
	host := hostport
	if hh, _, err := net.SplitHostPort(hostport); err == nil {
		host = hh
	}
	return strings.EqualFold(strings.TrimSuffix(host, "."), strings.TrimSuffix(h, "."))
}
