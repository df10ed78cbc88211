package auth

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/backline/backline/internal/config"
)

// auth.request.headers renames what the header and nginx endpoints read
// (Nauthilus 3 clients send X-Nauthilus-*); the old names are then ignored.
func TestConfiguredRequestHeaderNames(t *testing.T) {
	env := newEnv(t, func(c *config.Config, _ *Options) {
		c.Auth.Request.Headers = config.RequestHeaders{
			Username: "X-Nauthilus-Username", Password: "X-Nauthilus-Password",
			Protocol: "X-Nauthilus-Protocol", ClientIP: "X-Nauthilus-Client-IP", ClientHost: "Client-Host",
		}
	})
	req := func() *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/api/v1/auth/header", nil)
		r.Header.Set("X-Nauthilus-Username", testUser)
		r.Header.Set("X-Nauthilus-Password", testPassword)
		r.Header.Set("X-Nauthilus-Protocol", "pop3")
		r.Header.Set("X-Nauthilus-Client-IP", "192.0.2.9")
		r.Header.Set("Client-Host", "client.example")
		return r
	}
	w := env.do(req())
	if w.Code != 200 || w.Header().Get("Auth-User") != testUser || w.Header().Get("X-Nauthilus-Proxy-Port") != "1110" {
		t.Errorf("renamed headers: %d %v %s", w.Code, w.Header(), w.Body.String())
	}
	// The default names are not read any more.
	old := headerRequest(testUser, testPassword, "imap")
	if w := env.do(old); w.Code != 403 || w.Body.String() != "null" {
		t.Errorf("default names: %d %q, want a failed login (no user name)", w.Code, w.Body.String())
	}
	// A renamed header sent twice is refused under its configured name.
	r := req()
	r.Header.Add("X-Nauthilus-Password", "other")
	if w := env.do(r); assertInvalid(t, w, w.Code, w.Body.String(), "header") != "header X-Nauthilus-Password is sent 2 times; send it once" {
		t.Errorf("duplicate: %d %q", w.Code, w.Body.String())
	}
	// nginx reads the same names.
	r = req()
	r.URL.Path = "/api/v1/auth/nginx"
	if w := env.do(r); w.Header().Get("Auth-Status") != "OK" || w.Header().Get("Auth-Port") != "1110" {
		t.Errorf("nginx: %v", w.Header())
	}
}

func TestClientHostHeaderOnlyWhenConfigured(t *testing.T) {
	r := nginxRequest(testUser, testPassword, "imap", "1")
	r.Header.Set("Client-Host", "client.example")
	req, err := parseHeaderRequest(r, "nginx")
	if err != nil || req.ClientHost != "" {
		t.Fatalf("default: %v %q", err, req.ClientHost)
	}
	r = nginxRequest(testUser, testPassword, "imap", "1")
	r.Header.Set("Client-Host", "client.example")
	req, err = parseHeaderRequestWith(r, "nginx", newRequestHeaderSet(config.RequestHeaders{ClientHost: "Client-Host"}))
	if err != nil || req.ClientHost != "client.example" {
		t.Fatalf("configured: %v %q", err, req.ClientHost)
	}
}
