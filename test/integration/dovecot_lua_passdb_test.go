package integration

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/testfixture"
)

// TestDovecotLuaPassdbProxy runs the fixture's Dovecot proxy, whose passdb
// and userdb are a Lua script (dovecot-auth-lua, dovecot.http, lua-cjson)
// asking backline's JSON endpoint the way Nauthilus's Dovecot example asks
// Nauthilus: it sends `service`, not `protocol`, and ?mode=no-auth for a
// userdb lookup. backline runs as `serve` on the port the script calls, with
// Dovecot A and B as IMAP and POP3 targets.
func TestDovecotLuaPassdbProxy(t *testing.T) {
	f := testfixture.Load(t)
	user, pw := f.AliceUser, f.AlicePassword
	proxyIMAP, proxyPOP3 := f.Addr("DOVECOT_PROXY_IMAP"), f.Addr("DOVECOT_PROXY_POP3")
	// Before backline runs, the script's request fails (Dovecot's 9003,
	// connect failed): a temporary failure, never a wrong password.
	if l := imapLogin(t, proxyIMAP, user, pw, "NO"); !strings.Contains(l, "[UNAVAILABLE]") {
		t.Errorf("login without backline: %q, want NO [UNAVAILABLE]", l)
	}
	p := startProxyBackline(t, f)
	instanceOf := map[string]string{
		strconv.Itoa(f.Port("DOVECOT_A_IMAP")): "DOVECOT_A", strconv.Itoa(f.Port("DOVECOT_B_IMAP")): "DOVECOT_B",
		strconv.Itoa(f.Port("DOVECOT_A_POP3")): "DOVECOT_A", strconv.Itoa(f.Port("DOVECOT_B_POP3")): "DOVECOT_B",
	}
	idOf := map[string]string{
		strconv.Itoa(f.Port("DOVECOT_A_IMAP")): "a-imap", strconv.Itoa(f.Port("DOVECOT_B_IMAP")): "b-imap",
		strconv.Itoa(f.Port("DOVECOT_A_POP3")): "a-pop3", strconv.Itoa(f.Port("DOVECOT_B_POP3")): "b-pop3",
	}

	loginVia := func(t *testing.T, service, port string, login func()) {
		t.Helper()
		loginThroughDovecotProxy(t, f, instanceOf[port], service, user, port, login)
	}

	// The script sends no `protocol`: backline takes `service` as the
	// protocol (a POP3 request must get a POP3 port).
	if port := p.servicePort(user, pw, "pop3"); port != strconv.Itoa(f.Port("DOVECOT_A_POP3")) && port != strconv.Itoa(f.Port("DOVECOT_B_POP3")) {
		t.Fatalf("a request with service pop3 and no protocol got Proxy-Port %q, not a POP3 port", port)
	}

	t.Run("IMAP login lands on the backend backline chose", func(t *testing.T) {
		port := p.chosenPort(user, pw, "imap")
		loginVia(t, "imap-login", port, func() { imapLogin(t, proxyIMAP, user, pw, "OK") })
	})

	// Dovecot's `service` is the protocol: a POP3 login must get a POP3
	// port, not the IMAP one (a Dovecot proxy would speak POP3 to an IMAP
	// server and fail the login).
	t.Run("POP3 login lands on the backend backline chose", func(t *testing.T) {
		port := p.chosenPort(user, pw, "pop3")
		loginVia(t, "pop3-login", port, func() { pop3Login(t, proxyPOP3, user, pw, "+OK") })
	})

	t.Run("wrong password fails on both protocols", func(t *testing.T) {
		wrongPasswordStopsAtDovecotProxy(t, f, user,
			func() { imapLogin(t, proxyIMAP, user, "not-"+pw, "NO") },
			func() { pop3Login(t, proxyPOP3, user, "not-"+pw, "-ERR") })
	})

	t.Run("forced down backend fails over to the other", func(t *testing.T) {
		for _, proto := range []struct{ name, service string }{{"imap", "imap-login"}, {"pop3", "pop3-login"}} {
			home := p.chosenPort(user, pw, proto.name)
			path := "/api/v1/backends/" + idOf[home] + "/admin"
			if code, body := p.api(http.MethodPut, path, `{"health":"down","why":"dovecot lua failover test"}`); code != http.StatusOK {
				t.Fatalf("PUT %s: %d %s", path, code, body)
			}
			other := p.chosenPort(user, pw, proto.name)
			if other == home || instanceOf[other] == "" {
				t.Fatalf("%s: backline still chooses port %s (or an unknown one) with %s forced down", proto.name, other, idOf[home])
			}
			login := func() { imapLogin(t, proxyIMAP, user, pw, "OK") }
			if proto.name == "pop3" {
				login = func() { pop3Login(t, proxyPOP3, user, pw, "+OK") }
			}
			loginVia(t, proto.service, other, login)
			if code, body := p.api(http.MethodDelete, path, ""); code != http.StatusOK {
				t.Fatalf("DELETE %s: %d %s", path, code, body)
			}
			loginVia(t, proto.service, home, login)
		}
	})

	t.Run("userdb lookup", func(t *testing.T) {
		conf := f.Get("DOVECOT_PROXY_CONF")
		if out, code := doveadmUser(t, conf, user); code != 0 {
			t.Fatalf("doveadm user %s: exit %d\n%s", user, code, out)
		}
		// Iteration (auth_userdb_iterate -> ?mode=list-accounts).
		if out, code := doveadmUser(t, conf, "*"); code != 0 || strings.TrimSpace(out) != user {
			t.Errorf("doveadm user '*': exit %d, want the passwd-file's one user %q:\n%s", code, user, out)
		}
		out, code := doveadmUser(t, conf, "nobody-knows-this-user")
		// doveadm exits 67 (EX_NOUSER) for "user doesn't exist".
		if code != 67 || !strings.Contains(out, "doesn't exist") {
			t.Errorf("doveadm user of an unknown user: exit %d, want 67 and \"doesn't exist\"\n%s", code, out)
		}
	})

	if log := f.ReadLog("DOVECOT_PROXY"); strings.Contains(log, pw) {
		t.Error("the Dovecot proxy logged the password")
	}
}

// startProxyBackline runs `backline serve` where the fixture's Dovecot proxy
// sends its requests (DOVECOT_PROXY_BACKLINE_PORT), with the Basic auth
// credentials its Lua script sends, and waits for the four targets.
func startProxyBackline(t *testing.T, f *testfixture.Fixture) *servedBackline {
	t.Helper()
	return serveProxyBackline(t, f, buildBackline(t), "127.0.0.1:"+f.Get("DOVECOT_PROXY_BACKLINE_PORT"), "", "")
}

// serveProxyBackline runs one `backline serve` on addr with the proxy's
// API credentials, Dovecot A and B as IMAP and POP3 targets (a-imap,
// b-imap, a-pop3, b-pop3), alice and extraUsers (name:{PLAIN}password
// lines) in a passwd-file, and extra appended to the configuration (top
// level keys such as lua: or storage:). The tests take backends down
// through the admin API only: connect_timeout 1s (the 1s interval made it
// 500 ms) and failure_threshold 3 keep a Dovecot that greets late on a
// loaded machine from moving logins between a test's question and its
// login.
func serveProxyBackline(t *testing.T, f *testfixture.Fixture, bin, addr, extraUsers, extra string) *servedBackline {
	t.Helper()
	dir := t.TempDir()
	pwFile := f.Get("DOVECOT_PROXY_API_PASSWORD_FILE")
	apiPW, err := os.ReadFile(pwFile)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "passwd"), fmt.Sprintf("%s:{PLAIN}%s\n%s", f.AliceUser, f.AlicePassword, extraUsers))
	cfg := fmt.Sprintf(`server:
  address: "%s"
  log_level: info
  api_auth:
    username: %s
    password_file: "%s"
auth:
  services:
    enabled: [backend_health_checks]
    backend_health_checks:
      connect_interval: 1s
      deep_interval: 2s
      connect_timeout: 1s
      failure_threshold: 3
      recovery_threshold: 1
      jitter: 0
      targets:
        - {name: a-imap, protocol: imap, host: 127.0.0.1, port: %d, tls_mode: plain}
        - {name: b-imap, protocol: imap, host: 127.0.0.1, port: %d, tls_mode: plain}
        - {name: a-pop3, protocol: pop3, host: 127.0.0.1, port: %d, tls_mode: plain}
        - {name: b-pop3, protocol: pop3, host: 127.0.0.1, port: %d, tls_mode: plain}
  passdb:
    - {type: passwd_file, path: "%s"}
  nginx:
    default_policy: user_hash
%s`, addr, f.Get("DOVECOT_PROXY_API_USER"), pwFile,
		f.Port("DOVECOT_A_IMAP"), f.Port("DOVECOT_B_IMAP"), f.Port("DOVECOT_A_POP3"), f.Port("DOVECOT_B_POP3"),
		filepath.Join(dir, "passwd"), extra)
	s := serveBackline(t, bin, dir, addr, f.Get("DOVECOT_PROXY_API_USER"),
		strings.TrimSpace(string(apiPW)), cfg, f.AlicePassword)
	s.waitHealthy("a-imap", "b-imap", "a-pop3", "b-pop3")
	return s
}

// doveadmUser runs `doveadm -c conf user name` (a userdb lookup through the
// proxy's auth process) and returns its output and exit code.
func doveadmUser(t *testing.T, conf, name string) (string, int) {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command("doveadm", "-c", conf, "user", name)
	cmd.Stdout, cmd.Stderr = &out, &out
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			return out.String(), exitErr.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return out.String(), 0
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("doveadm user %s did not finish within 15s", name)
		return "", -1
	}
}
