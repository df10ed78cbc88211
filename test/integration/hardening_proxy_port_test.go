package integration

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/probe"
	"github.com/backline/backline/internal/testfixture"
)

// TestNginxImplicitTLSTargetProxyPort (issue 9 item 18): nginx's mail proxy
// speaks plain text to its upstream, so backline must never hand it Dovecot's
// IMAPS port. A real nginx, authenticating with backline, in front of the
// fixture's Dovecot:
//   - the health-checked target is Dovecot A's IMAPS port with proxy_port set
//     to A's plain IMAP port: the login lands on A and the session works;
//   - without proxy_port and nothing else healthy: the client gets a NO
//     (backline's tempfail) at once, instead of hanging after LOGIN;
//   - without proxy_port but with Dovecot B's plain IMAP healthy too: every
//     login lands on B (round robin would otherwise alternate).
//
// In no case is nginx told the IMAPS port. (On 6e90d09 the answer named it,
// and the client waited for a LOGIN answer that never came.)
func TestNginxImplicitTLSTargetProxyPort(t *testing.T) {
	f := testfixture.Load(t)
	dir := t.TempDir()
	user, password := f.AliceUser, f.AlicePassword
	passwd := filepath.Join(dir, "passwd")
	writeFile(t, passwd, fmt.Sprintf("%s:{PLAIN}%s\n", user, password))

	imapsPort, imapPort := f.Port("DOVECOT_A_IMAPS"), f.Port("DOVECOT_A_IMAP")
	imaps := config.Target{Name: "a-imaps", Protocol: "imap", Host: f.Host, Port: imapsPort, TLSMode: "implicit"}
	plainB := config.Target{Name: "b-imap", Protocol: "imap", Host: f.Host, Port: f.Port("DOVECOT_B_IMAP"), TLSMode: "plain"}

	sw := &swapHandler{}
	answers := &answerLog{next: sw}
	imapAddr, _ := startNginx(t, dir, serveAuth(t, answers))
	logs := &lockedBuffer{}
	// use configures backline with these health-checked targets, all healthy.
	use := func(targets ...config.Target) {
		t.Helper()
		cfg := &config.Config{}
		cfg.Auth.Passdb = []config.Passdb{{Type: config.PassdbPasswdFile, Path: passwd}}
		cfg.Auth.Nginx.FailureMessage = nginxFailMessage
		oneSecond := 1 // the no-backend tempfail's Auth-Wait: nginx answers after it
		cfg.Auth.Nginx.NoBackendWait = &oneSecond
		// Round robin: two logins in a row try every target nginx may get.
		cfg.Auth.Nginx.DefaultPolicy = config.PolicyRoundRobin
		cfg.Auth.Services.BackendHealthChecks.Targets = targets
		hs := &mailHealth{}
		for _, ct := range targets {
			pt, err := probe.NewTarget(&ct)
			if err != nil {
				t.Fatal(err)
			}
			hs.add(pt)
		}
		sw.set(newAuthHandler(t, cfg, hs, logs))
	}

	t.Run("proxy_port: the login reaches Dovecot's plain port and works", func(t *testing.T) {
		withProxyPort := imaps
		withProxyPort.ProxyPort = imapPort
		use(withProxyPort)
		expectLogin(t, f, "DOVECOT_A", "imap-login", user, func() {
			imapSelectInbox(t, imapAddr, user, password)
		})
		last := answers.all()
		if got := last[len(last)-1]; got.Get("Auth-Port") != strconv.Itoa(imapPort) {
			t.Errorf("nginx was told %v, want Auth-Port %d (the proxy_port)", got, imapPort)
		}
	})
	t.Run("no proxy_port, only implicit TLS healthy: a NO, not a hang", func(t *testing.T) {
		use(imaps)
		start := time.Now()
		imapLoginWithin(t, imapAddr, user, password, "NO", 10*time.Second)
		t.Logf("NO after %v", time.Since(start).Round(time.Millisecond))
		if !strings.Contains(logs.String(), "has no proxy_port") {
			t.Errorf("backline did not say why it handed nginx nothing:\n%s", logs.String())
		}
	})
	t.Run("no proxy_port, a plain target healthy too: that one", func(t *testing.T) {
		use(imaps, plainB)
		for range 2 {
			expectLogin(t, f, "DOVECOT_B", "imap-login", user, func() {
				imapSelectInbox(t, imapAddr, user, password)
			})
		}
	})
	for _, a := range answers.all() {
		if a.Get("Auth-Port") == strconv.Itoa(imapsPort) {
			t.Errorf("nginx was handed the implicit-TLS port: %v", a)
		}
	}
	if strings.Contains(logs.String(), password) {
		t.Errorf("backline logged a password:\n%s", logs.String())
	}
}

// imapSelectInbox logs in through addr, selects INBOX (a working session,
// not only an accepted LOGIN) and logs out, all within 10 s.
func imapSelectInbox(t *testing.T, addr, user, password string) {
	t.Helper()
	m := imapLoginWithin(t, addr, user, password, "OK", 10*time.Second)
	for _, cmd := range []string{"a2 SELECT INBOX", "a3 LOGOUT"} {
		m.send(cmd)
		tag := strings.Fields(cmd)[0] + " "
		l := m.line()
		for !strings.HasPrefix(l, tag) {
			l = m.line()
		}
		if !strings.HasPrefix(l, tag+"OK") {
			t.Fatalf("%s: %q", cmd, l)
		}
	}
}

// imapLoginWithin sends LOGIN and wants a tagged answer starting with want
// before the timeout runs out; a client left waiting fails the test.
func imapLoginWithin(t *testing.T, addr, user, password, want string, timeout time.Duration) *mailConn {
	t.Helper()
	m := dialMail(t, addr)
	_ = m.c.SetDeadline(time.Now().Add(timeout))
	m.imapLoginAnswer(user, password, want)
	return m
}
