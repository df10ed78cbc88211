package server

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/backline/backline/internal/config"
)

// Without api_auth, on a loopback listener, the API trusts whoever can
// connect, which is the host's own users. DNS rebinding lets any web page
// a browser on that host shows be one of them: the page's name is made to
// resolve to 127.0.0.1, and its requests look same-origin. Such requests
// carry the page's name in Host; local clients name an address or
// localhost. With api_auth, or on a listener others can reach, nothing
// changes.
func TestLoopbackAPIWithoutAuthRefusesForeignHostNames(t *testing.T) {
	get := func(s *Server, host string) int {
		r := httptest.NewRequest(http.MethodGet, "/api/v1/backends", nil)
		r.Host = host
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, r)
		return w.Code
	}
	serving := func(addr string, auth config.APIAuth) *Server {
		s := New(Options{Logger: slog.New(slog.DiscardHandler), APIAuth: auth})
		s.addr.Store(&addr)
		return s
	}
	open := serving("127.0.0.1:9080", config.APIAuth{})
	for _, host := range []string{"evil.example:9080", "evil.example", "127.0.0.1.nip.example:9080"} {
		if code := get(open, host); code != http.StatusMisdirectedRequest {
			t.Errorf("Host %q on an open loopback API: %d, want 421", host, code)
		}
	}
	for _, host := range []string{"127.0.0.1:9080", "localhost:9080", "LOCALHOST", "[::1]:9080", "10.0.0.5:9080", ""} {
		if code := get(open, host); code != http.StatusOK {
			t.Errorf("Host %q on an open loopback API: %d, want 200", host, code)
		}
	}
	// nginx or Dovecot may name the API by a host name: the auth endpoints
	// and the health checks answer any Host.
	for _, path := range []string{"/healthz", "/api/v1/auth/nginx"} {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		r.Host = "backline.internal:9080"
		w := httptest.NewRecorder()
		open.Handler().ServeHTTP(w, r)
		if w.Code == http.StatusMisdirectedRequest {
			t.Errorf("%s with a host name: 421", path)
		}
	}
	// The name server.address gives (ctl --config uses it) is accepted.
	named := New(Options{Logger: slog.New(slog.DiscardHandler), Address: "backline.local:9080"})
	bound := "127.0.0.1:9080"
	named.addr.Store(&bound)
	if code := get(named, "backline.local:9080"); code != http.StatusOK {
		t.Errorf("Host of server.address: %d, want 200", code)
	}
	if code := get(named, "evil.example:9080"); code != http.StatusMisdirectedRequest {
		t.Errorf("other name with server.address a name: %d, want 421", code)
	}
	if code := get(serving("127.0.0.1:9080", config.APIAuth{Username: "ops", Password: "pw"}), "backline.example"); code != http.StatusUnauthorized {
		t.Errorf("with api_auth the Host is not checked: %d, want 401", code)
	}
	if code := get(serving("0.0.0.0:9080", config.APIAuth{}), "backline.example:9080"); code != http.StatusOK {
		t.Errorf("a network listener keeps serving names: %d", code)
	}
}
