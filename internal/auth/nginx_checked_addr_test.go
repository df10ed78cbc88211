package auth

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/probe"
)

// countingResolver answers like DNS would today for a name with several
// addresses, and counts the lookups.
type countingResolver struct {
	mu    sync.Mutex
	ips   map[string]string
	calls int
}

func (r *countingResolver) resolve(_ context.Context, host string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if ip, ok := r.ips[host]; ok {
		return ip, nil
	}
	return "", errors.New("no such host")
}

func (r *countingResolver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls
}

// checkedEnv has one healthy IMAP target named by a host name. DNS now
// answers 198.51.100.1; the health check reached addr (zero: not yet).
func checkedEnv(t *testing.T, addr string, filters filterRunner) (*testEnv, *countingResolver) {
	t.Helper()
	env := newEnv(t, func(c *config.Config, o *Options) {
		c.Auth.Nginx.DefaultPolicy = config.PolicyFirst
		o.filters = filters
	})
	res := &countingResolver{ips: map[string]string{"mail.example.test": "198.51.100.1"}}
	env.h.resolver = res
	env.health.set(checkedBackend(addr))
	return env, res
}

func checkedBackend(addr string) health.Backend {
	b := mailBackend("imap-named", "imap", "mail.example.test", 143, true)
	if addr != "" {
		b.Addr = netip.MustParseAddr(addr)
	}
	return b
}

func nginxServer(t *testing.T, env *testEnv) string {
	t.Helper()
	w := env.do(nginxRequest(testUser, testPassword, "imap", "1"))
	if got := w.Header().Get("Auth-Status"); got != "OK" {
		t.Fatalf("Auth-Status %q, headers %v", got, w.Header())
	}
	return w.Header().Get("Auth-Server") + " " + w.Header().Get("Auth-Port")
}

// The point of the change: the name resolves to an address the checks
// never reached (or a dead one); nginx gets the one they did, with no
// lookup per login.
func TestNginxAnswerUsesCheckedAddr(t *testing.T) {
	env, res := checkedEnv(t, "192.0.2.7", nil)
	for range 3 {
		if got := nginxServer(t, env); got != "192.0.2.7 143" {
			t.Fatalf("answer %q, want the checked 192.0.2.7 143", got)
		}
	}
	if n := res.count(); n != 0 {
		t.Errorf("%d DNS lookups for a checked backend, want none", n)
	}

	// The next check reached another address (DNS changed): the next
	// snapshot carries it, and so does the next answer.
	env.health.set(checkedBackend("192.0.2.8"))
	if got := nginxServer(t, env); got != "192.0.2.8 143" {
		t.Errorf("after the address changed: %q", got)
	}
}

func TestNginxAnswerResolvesBeforeTheFirstCheck(t *testing.T) {
	env, res := checkedEnv(t, "", nil)
	if got := nginxServer(t, env); got != "198.51.100.1 143" {
		t.Errorf("answer %q, want the resolved 198.51.100.1 143", got)
	}
	if n := res.count(); n != 1 {
		t.Errorf("%d lookups, want 1", n)
	}
}

// nginx parses Auth-Server with ngx_parse_addr, which takes a bare IPv6
// literal (since 1.5.0); a zone is no part of what it parses.
func TestNginxAnswerCheckedIPv6(t *testing.T) {
	for addr, want := range map[string]string{
		"2001:db8::7":      "2001:db8::7 143",
		"fe80::7%eth0":     "fe80::7 143",
		"::ffff:192.0.2.9": "192.0.2.9 143",
	} {
		env, _ := checkedEnv(t, addr, nil)
		if got := nginxServer(t, env); got != want {
			t.Errorf("checked %s: answer %q, want %q", addr, got, want)
		}
	}
}

func TestNginxFilterChoiceUsesCheckedAddr(t *testing.T) {
	for _, tc := range []struct {
		name, host string
		port       int
		want       string
		lookups    int
	}{
		{"configured target by name", "mail.example.test", 143, "192.0.2.7 143", 0},
		{"configured target, name in another spelling", "MAIL.example.test.", 143, "192.0.2.7 143", 0},
		{"a host no target has", "other.example.test", 143, "203.0.113.5 143", 1},
		{"the target's host on a port no target has", "mail.example.test", 9143, "198.51.100.1 9143", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			filters := &fakeFilters{fn: func(filterRequest) (*filterOutcome, error) {
				return &filterOutcome{SelectedHost: tc.host, SelectedPort: tc.port}, nil
			}}
			env, res := checkedEnv(t, "192.0.2.7", filters)
			res.ips["other.example.test"] = "203.0.113.5"
			if got := nginxServer(t, env); got != tc.want {
				t.Errorf("answer %q, want %q", got, tc.want)
			}
			if n := res.count(); n != tc.lookups {
				t.Errorf("%d lookups, want %d", n, tc.lookups)
			}
		})
	}
}

// proxy_port replaces the checked port; the checked host's IP stays.
func TestNginxCheckedAddrWithProxyPort(t *testing.T) {
	env := newEnv(t, func(c *config.Config, o *Options) {
		c.Auth.Services.BackendHealthChecks.Targets = []config.Target{
			{Name: "imaps-named", Protocol: "imap", Host: "mail.example.test", Port: 993, TLSMode: config.TLSImplicit, ProxyPort: 143},
		}
	})
	env.h.resolver = fakeResolver{"mail.example.test": "198.51.100.1"}
	b := health.BackendFor(health.GroupMail, &probe.Target{Name: "imaps-named", Protocol: "imap",
		Host: "mail.example.test", Port: 993, TLSMode: probe.TLSImplicit}, true)
	b.Addr = netip.MustParseAddr("192.0.2.7")
	env.health.set(b)
	if got := nginxServer(t, env); got != "192.0.2.7 143" {
		t.Errorf("answer %q, want 192.0.2.7 143", got)
	}
}

// Header and json answers keep the configured name in Proxy-Host; explain
// shows the address an nginx answer would carry.
func TestCheckedAddrInExplainNotProxyHost(t *testing.T) {
	env, _ := checkedEnv(t, "192.0.2.7", nil)
	w := env.do(headerRequest(testUser, testPassword, "imap"))
	if got := w.Header().Get("X-Nauthilus-Proxy-Host"); got != "mail.example.test" {
		t.Errorf("Proxy-Host %q, want the configured name", got)
	}
	ans, w := env.explain(`{"username":"` + testUser + `","protocol":"imap","service":"nginx"}`)
	if ans.Backend == nil || ans.Backend.Addr != netip.MustParseAddr("192.0.2.7") ||
		!strings.Contains(w.Body.String(), `"checked_addr"`) {
		t.Errorf("explain: %s", w.Body.String())
	}

	env, _ = checkedEnv(t, "", nil)
	if _, w := env.explain(`{"username":"` + testUser + `","protocol":"imap"}`); strings.Contains(w.Body.String(), "checked_addr") {
		t.Errorf("explain before the first check names an address: %s", w.Body.String())
	}
}
