package server

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/backline/backline/internal/config"
)

type countingReloader struct{ n atomic.Int64 }

func (c *countingReloader) Reload() ReloadResult { c.n.Add(1); return ReloadResult{Generation: 2} }

// A browser that has the API's Basic credentials (the operator opened the
// status page) re-sends them with any request to the API, also one that
// another site's page makes: a form or no-cors fetch POST needs no
// preflight. Such cross-site requests must not reload, explain or log
// in; ctl, curl, nginx and Dovecot send neither Origin nor Sec-Fetch-Site
// and are unaffected, as is the status page's own same-origin call.
func TestCrossSiteBrowserRequestsAreRefused(t *testing.T) {
	for _, legacy := range []bool{false, true} {
		rl := &countingReloader{}
		opts := Options{Logger: slog.New(slog.DiscardHandler), APIAuth: config.APIAuth{Username: "ops", Password: "pw"},
			Reloader: rl}
		var h http.Handler
		if legacy {
			h = New(opts).Handler()
		} else {
			rt := &swapRouter{}
			opts.Router = rt
			s := New(opts)
			routes, err := s.Routes(opts.APIAuth, nil)
			if err != nil {
				t.Fatal(err)
			}
			rt.set(routes)
			h = s.Handler()
		}
		post := func(hdr map[string]string) int {
			r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:9080/api/v1/reload", nil)
			r.SetBasicAuth("ops", "pw")
			for k, v := range hdr {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			return w.Code
		}
		if code := post(map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}); code != http.StatusForbidden {
			t.Errorf("legacy=%v: cross-site POST: %d, want 403", legacy, code)
		}
		if code := post(map[string]string{"Origin": "https://evil.example"}); code != http.StatusForbidden {
			t.Errorf("legacy=%v: POST with a foreign Origin: %d, want 403", legacy, code)
		}
		if n := rl.n.Load(); n != 0 {
			t.Errorf("legacy=%v: %d cross-site reloads ran", legacy, n)
		}
		if code := post(nil); code != http.StatusOK {
			t.Errorf("legacy=%v: POST without browser headers (ctl, curl): %d, want 200", legacy, code)
		}
		if code := post(map[string]string{"Origin": "http://127.0.0.1:9080", "Sec-Fetch-Site": "same-origin"}); code != http.StatusOK {
			t.Errorf("legacy=%v: same-origin POST (status page): %d, want 200", legacy, code)
		}
	}
}

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
