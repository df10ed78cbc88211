package integration

import (
	"bufio"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/backline/backline/internal/auth"
	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/lua"
	"github.com/backline/backline/internal/probe"
	"github.com/backline/backline/internal/testfixture"
	"github.com/backline/backline/internal/testutil"
)

const (
	nginxBinary      = "/usr/sbin/nginx"
	nginxMailModule  = "/usr/lib/nginx/modules/ngx_mail_module.so"
	nginxFailMessage = "backline says no"
)

// routeScript sends "<user>+b" to the second healthy backend of the
// protocol (Dovecot B while both are up), everyone else to the first.
const routeScript = `
local nauthilus_backend = require("nauthilus_backend")

function nauthilus_call_filter(request)
    local servers = {}
    for _, s in ipairs(nauthilus_backend.get_backend_servers()) do
        if s.protocol == request.protocol then
            table.insert(servers, s)
        end
    end
    local pick = servers[1]
    if string.sub(request.username, -2) == "+b" and #servers > 1 then
        pick = servers[2]
    end
    if pick ~= nil then
        nauthilus_backend.select_backend_server(pick.host, pick.port)
    end
    return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end
`

// mailHealth is a health.Source (and TargetLookup) the test flips by hand.
type mailHealth struct {
	mu       sync.Mutex
	backends []health.Backend
	targets  map[string]*probe.Target
}

func newMailHealth(targets ...*probe.Target) *mailHealth {
	m := &mailHealth{}
	for _, t := range targets {
		m.add(t)
	}
	return m
}

func (m *mailHealth) add(t *probe.Target) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := health.BackendFor(health.GroupMail, t, true)
	if m.targets == nil {
		m.targets = map[string]*probe.Target{}
	}
	m.targets[b.ID] = t
	m.backends = append(m.backends, b)
}

func (m *mailHealth) Snapshot() *health.Snapshot {
	m.mu.Lock()
	defer m.mu.Unlock()
	return &health.Snapshot{Backends: append([]health.Backend(nil), m.backends...)}
}

func (m *mailHealth) ProbeTarget(id string) (*probe.Target, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.targets[id]
	return t, ok
}

func (m *mailHealth) TestPasswords() []string { return nil }

func (m *mailHealth) setHealthy(name string, healthy bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.backends {
		if b := &m.backends[i]; strings.HasPrefix(b.Target.Name, name) {
			b.Healthy, b.Eligible, b.Reason = healthy, healthy, ""
			if !healthy {
				b.Reason = health.ReasonUnhealthy
			}
		}
	}
}

// TestNginxMailAuth runs a real nginx mail proxy whose auth_http is
// backline's handler, in front of the fixture's Dovecot A and B.
func TestNginxMailAuth(t *testing.T) {
	f := testfixture.Load(t)
	// Registered first so it runs last, after nginx and its pipes are gone.
	existing := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, existing) })
	for _, p := range []string{nginxBinary, nginxMailModule} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("nginx with the mail module is required (scripts/install-deps.sh): %v", err)
		}
	}
	dir := t.TempDir()
	user, password := f.AliceUser, f.AlicePassword

	// backline: a passwd-file (user+b logs in to the backend as user) and the routing filter.
	passwd := filepath.Join(dir, "passwd")
	writeFile(t, passwd, fmt.Sprintf("%s:{PLAIN}%s\n%s+b:{PLAIN}%s:::::: user=%s\n", user, password, user, password, user))
	script := filepath.Join(dir, "route.lua")
	writeFile(t, script, routeScript)

	target := func(name, proto, port string) *probe.Target {
		return &probe.Target{Name: name, Protocol: proto, Host: "127.0.0.1", Port: f.Port(port), TLSMode: probe.TLSPlain}
	}
	hs := newMailHealth(
		target("a-imap", "imap", "DOVECOT_A_IMAP"), target("b-imap", "imap", "DOVECOT_B_IMAP"),
		target("a-pop3", "pop3", "DOVECOT_A_POP3"), target("b-pop3", "pop3", "DOVECOT_B_POP3"),
	)
	cfg := &config.Config{}
	cfg.Auth.Passdb = []config.Passdb{{Type: config.PassdbPasswdFile, Path: passwd}}
	cfg.Auth.Nginx.FailureMessage = nginxFailMessage
	cfg.Lua.Filters = []config.LuaFilter{{Name: "route", ScriptPath: script}}
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	engine, err := lua.NewEngine(lua.Options{Config: cfg.Lua, Health: hs, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer engine.Close()
	h, err := auth.New(auth.Options{Config: cfg, Lua: engine, Health: hs, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Register(mux)
	authLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.Serve(authLn) }()
	defer func() { _ = srv.Close(); <-served }()

	imapAddr, pop3Addr := startNginx(t, dir, authLn.Addr().String())

	t.Run("IMAP login lands on the filter's backend", func(t *testing.T) {
		expectLogin(t, f, "DOVECOT_A", "imap-login", user, func() { imapLogin(t, imapAddr, user, password, "OK") })
		expectLogin(t, f, "DOVECOT_B", "imap-login", user, func() { imapLogin(t, imapAddr, user+"+b", password, "OK") })
	})
	t.Run("POP3 login lands on the filter's backend", func(t *testing.T) {
		expectLogin(t, f, "DOVECOT_A", "pop3-login", user, func() { pop3Login(t, pop3Addr, user, password, "+OK") })
		expectLogin(t, f, "DOVECOT_B", "pop3-login", user, func() { pop3Login(t, pop3Addr, user+"+b", password, "+OK") })
	})
	t.Run("unhealthy A moves logins to B", func(t *testing.T) {
		hs.setHealthy("a-", false)
		defer hs.setHealthy("a-", true)
		expectLogin(t, f, "DOVECOT_B", "imap-login", user, func() { imapLogin(t, imapAddr, user, password, "OK") })
		expectLogin(t, f, "DOVECOT_B", "pop3-login", user, func() { pop3Login(t, pop3Addr, user, password, "+OK") })
	})
	t.Run("wrong password refused with backline's message", func(t *testing.T) {
		got := imapLogin(t, imapAddr, user, "wrong-"+password, "NO")
		if !strings.Contains(got, nginxFailMessage) {
			t.Errorf("IMAP answer %q lacks %q", got, nginxFailMessage)
		}
		got = pop3Login(t, pop3Addr, user, "wrong-"+password, "-ERR")
		if !strings.Contains(got, nginxFailMessage) {
			t.Errorf("POP3 answer %q lacks %q", got, nginxFailMessage)
		}
	})
	if strings.Contains(logs.String(), password) {
		t.Errorf("backline logged a password:\n%s", logs.String())
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

type lockedBuffer = testutil.LogBuffer

// startNginx runs nginx in the foreground (no master, no daemon) and
// returns its IMAP and POP3 addresses once both accept connections.
func startNginx(t *testing.T, dir, authAddr string) (string, string) {
	t.Helper()
	return startNginxWith(t, dir, authAddr, "")
}

// startNginxWith is startNginx with extra directives in the mail block
// (auth_http_header for a daemon behind api_auth).
func startNginxWith(t *testing.T, dir, authAddr, mailExtra string) (string, string) {
	t.Helper()
	imapAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	pop3Addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	mail := fmt.Sprintf(`
mail {
    server_name mail.backline.test;
    auth_http 127.0.0.1:%s/api/v1/auth/nginx;
    auth_http_timeout 10s;
    proxy_pass_error_message on;
    %s
    server { listen %s; protocol imap; }
    server { listen %s; protocol pop3; pop3_auth plain; }
}
`, portOf(authAddr), mailExtra, imapAddr, pop3Addr)
	runNginxMail(t, dir, mail, imapAddr, pop3Addr)
	return imapAddr, pop3Addr
}

func portOf(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return port
}

// mailConn is a line-oriented client connection with a deadline.
type mailConn struct {
	t  *testing.T
	c  net.Conn
	rd *bufio.Reader
}

func dialMail(t *testing.T, addr string) *mailConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	t.Cleanup(func() { c.Close() })
	return &mailConn{t: t, c: c, rd: bufio.NewReader(c)}
}

func (m *mailConn) line() string {
	m.t.Helper()
	s, err := m.rd.ReadString('\n')
	if err != nil {
		m.t.Fatalf("reading: %v (got %q)", err, s)
	}
	return strings.TrimRight(s, "\r\n")
}

func (m *mailConn) send(s string) {
	m.t.Helper()
	if _, err := m.c.Write([]byte(s + "\r\n")); err != nil {
		m.t.Fatal(err)
	}
}

// imapLogin logs in with LOGIN and returns the tagged answer, which must
// start with want ("OK" or "NO").
func imapLogin(t *testing.T, addr, user, password, want string) string {
	t.Helper()
	m := dialMail(t, addr)
	l := m.imapLoginAnswer(user, password, want)
	if want == "OK" {
		m.send("a2 LOGOUT")
		for !strings.HasPrefix(m.line(), "a2 ") {
		}
	}
	return l
}

// imapLoginAnswer reads the greeting, sends LOGIN and returns the tagged
// answer, which must start with want.
func (m *mailConn) imapLoginAnswer(user, password, want string) string {
	m.t.Helper()
	if g := m.line(); !strings.HasPrefix(g, "* OK") {
		m.t.Fatalf("greeting %q", g)
	}
	m.send(fmt.Sprintf("a1 LOGIN %q %q", user, password))
	for {
		l := m.line()
		if strings.HasPrefix(l, "a1 ") {
			if !strings.HasPrefix(l, "a1 "+want) {
				m.t.Fatalf("LOGIN %s: %q, want %s", user, l, want)
			}
			return l
		}
	}
}

// pop3Login logs in with USER/PASS and returns the PASS answer.
func pop3Login(t *testing.T, addr, user, password, want string) string {
	t.Helper()
	m := dialMail(t, addr)
	if g := m.line(); !strings.HasPrefix(g, "+OK") {
		t.Fatalf("greeting %q", g)
	}
	m.send("USER " + user)
	if l := m.line(); !strings.HasPrefix(l, "+OK") {
		t.Fatalf("USER: %q", l)
	}
	m.send("PASS " + password)
	l := m.line()
	if !strings.HasPrefix(l, want) {
		t.Fatalf("PASS for %s: %q, want %s", user, l, want)
	}
	if want == "+OK" {
		m.send("QUIT")
		m.line()
	}
	return l
}

// expectLogin runs login and waits until the Dovecot instance logs a
// successful login of user by the given service, and the other one does
// not. Dovecot writes its log asynchronously, hence the bounded wait.
func expectLogin(t *testing.T, f *testfixture.Fixture, instance, service, user string, login func()) {
	t.Helper()
	other := map[string]string{"DOVECOT_A": "DOVECOT_B", "DOVECOT_B": "DOVECOT_A"}[instance]
	before := map[string]int{instance: len(f.ReadLog(instance)), other: len(f.ReadLog(other))}
	login()
	needle := fmt.Sprintf("%s: Info: Login: user=<%s>", service, user)
	waitForLog(t, f, instance, before[instance], needle)
	if strings.Contains(f.ReadLog(other)[before[other]:], needle) {
		t.Errorf("%s also logged a login of %s; the login should have gone to %s only", other, user, instance)
	}
}
