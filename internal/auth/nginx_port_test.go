package auth

import (
	"strings"
	"testing"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/probe"
)

func implicitBackend(name, host string, port int) health.Backend {
	b := mailBackend(name, "imap", host, port, true)
	b.Target.TLSMode = probe.TLSImplicit
	return b
}

// implicitEnv has two healthy IMAPS targets: imaps-a without proxy_port,
// imaps-b with proxy_port 143.
func implicitEnv(t *testing.T, filters filterRunner) *testEnv {
	t.Helper()
	env := newEnv(t, func(c *config.Config, o *Options) {
		c.Auth.Services.BackendHealthChecks.Targets = []config.Target{
			{Name: "imaps-a", Protocol: "imap", Host: "127.0.0.1", Port: 993, TLSMode: config.TLSImplicit},
			{Name: "imaps-b", Protocol: "imap", Host: "127.0.0.2", Port: 993, TLSMode: config.TLSImplicit, ProxyPort: 143},
		}
		c.Auth.Nginx.DefaultPolicy = config.PolicyRoundRobin
		o.filters = filters
	})
	env.health.set(implicitBackend("imaps-a", "127.0.0.1", 993), implicitBackend("imaps-b", "127.0.0.2", 993))
	return env
}

// TestNginxNeverGetsAnImplicitTLSPort: nginx's mail proxy speaks plain text
// to its upstream, so an implicit-TLS port would hang the client after LOGIN.
func TestNginxNeverGetsAnImplicitTLSPort(t *testing.T) {
	env := implicitEnv(t, nil)
	for range 4 {
		w := env.do(nginxRequest(testUser, testPassword, "imap", "1"))
		if got := w.Header().Get("Auth-Server") + ":" + w.Header().Get("Auth-Port"); got != "127.0.0.2:143" {
			t.Errorf("handed out %s, want imaps-b's proxy_port 127.0.0.2:143", got)
		}
	}

	// Only the target without proxy_port is healthy: nothing to hand out.
	env.health.set(implicitBackend("imaps-a", "127.0.0.1", 993))
	for range 3 {
		w := env.do(nginxRequest(testUser, testPassword, "imap", "1"))
		if w.Header().Get("Auth-Status") != config.DefaultTempfailMessage || w.Header().Get("Auth-Port") != "" {
			t.Errorf("only imaps-a healthy: %v", w.Header())
		}
	}
	logs := env.logs.String()
	if !strings.Contains(logs, `reason="no healthy backend nginx can speak to for protocol \"imap\" (skipped imaps-a: implicit TLS without proxy_port)"`) {
		t.Errorf("log lacks the reason:\n%s", logs)
	}
	if n := strings.Count(logs, `level=WARN msg="target uses implicit TLS and has no proxy_port; not handed to nginx" target=imaps-a`); n != 1 {
		t.Errorf("%d WARN lines about imaps-a, want 1:\n%s", n, logs)
	}
}

func TestNginxLuaSelectionOfAnImplicitTLSPort(t *testing.T) {
	var host string
	env := implicitEnv(t, &fakeFilters{fn: func(filterRequest) (*filterOutcome, error) {
		return &filterOutcome{SelectedHost: host, SelectedPort: 993}, nil
	}})
	host = "127.0.0.2"
	w := env.do(nginxRequest(testUser, testPassword, "imap", "1"))
	if got := w.Header().Get("Auth-Server") + ":" + w.Header().Get("Auth-Port"); got != "127.0.0.2:143" {
		t.Errorf("selection of imaps-b: handed out %s, want its proxy_port", got)
	}
	host = "127.0.0.1"
	w = env.do(nginxRequest(testUser, testPassword, "imap", "1"))
	if w.Header().Get("Auth-Status") != config.DefaultTempfailMessage || w.Header().Get("Auth-Port") != "" {
		t.Errorf("selection of imaps-a: %v", w.Header())
	}
	if !strings.Contains(env.logs.String(), `reason="filter selected imaps-a (127.0.0.1:993), which uses implicit TLS and has no proxy_port; nginx cannot speak to it"`) {
		t.Errorf("log lacks the reason:\n%s", env.logs.String())
	}
}
