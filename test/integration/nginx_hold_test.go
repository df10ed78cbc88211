package integration

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/backline/backline/internal/auth"
	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/probe"
	"github.com/backline/backline/internal/testfixture"
)

// holdStack is a real nginx mail proxy asking an in-process backline with
// auth.nginx.no_backend_hold, in front of the fixture's Dovecot A, whose
// health the test sets by hand.
type holdStack struct {
	f        *testfixture.Fixture
	health   *mailHealth
	logs     *lockedBuffer
	imapAddr string
}

func startHoldStack(t *testing.T, hold time.Duration, wait int) *holdStack {
	t.Helper()
	f := testfixture.Load(t)
	existing := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, existing) })
	dir := t.TempDir()
	passwd := filepath.Join(dir, "passwd")
	writeFile(t, passwd, fmt.Sprintf("%s:{PLAIN}%s\n", f.AliceUser, f.AlicePassword))
	hs := newMailHealth(&probe.Target{Name: "a-imap", Protocol: "imap", Host: "127.0.0.1",
		Port: f.Port("DOVECOT_A_IMAP"), TLSMode: probe.TLSPlain})
	hs.setHealthy("a-", false)

	cfg := &config.Config{}
	cfg.Auth.Passdb = []config.Passdb{{Type: config.PassdbPasswdFile, Path: passwd}}
	cfg.Auth.Nginx.NoBackendHold = &hold
	cfg.Auth.Nginx.NoBackendWait = &wait
	logs := &lockedBuffer{}
	h, err := auth.New(auth.Options{Config: cfg, Health: hs, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Register(mux)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close(); <-served })
	imapAddr, _ := startNginx(t, dir, ln.Addr().String())
	t.Cleanup(func() {
		if strings.Contains(logs.String(), f.AlicePassword) {
			t.Errorf("backline logged a password:\n%s", logs.String())
		}
	})
	return &holdStack{f: f, health: hs, logs: logs, imapAddr: imapAddr}
}

// nginx keeps the client's LOGIN open while backline answers WAIT; the
// backend comes back during the hold and the same LOGIN succeeds there.
func TestNginxHoldBackendRecovers(t *testing.T) {
	s := startHoldStack(t, 5*time.Minute, 1)
	user := s.f.AliceUser
	m := dialMail(t, s.imapAddr)
	if g := m.line(); !strings.HasPrefix(g, "* OK") {
		t.Fatalf("greeting %q", g)
	}
	before := len(s.f.ReadLog("DOVECOT_A"))
	m.send(fmt.Sprintf("a1 LOGIN %q %q", user, s.f.AlicePassword))
	// Two WAIT rounds: nginx asked again after the first one.
	waitForOutputCount(t, s.logs, 0, "hold=wait", 2)
	s.health.setHealthy("a-", true)
	for {
		l := m.line()
		if strings.HasPrefix(l, "a1 ") {
			if !strings.HasPrefix(l, "a1 OK") {
				t.Fatalf("LOGIN after recovery: %q", l)
			}
			break
		}
	}
	waitForLog(t, s.f, "DOVECOT_A", before, fmt.Sprintf("imap-login: Info: Login: user=<%s>", user))
	m.send("a2 LOGOUT")
	for !strings.HasPrefix(m.line(), "a2 ") {
	}
	if strings.Contains(s.logs.String(), "hold=expired") {
		t.Errorf("hold expired although the backend came back:\n%s", s.logs.String())
	}
}

// No backend ever comes back: after no_backend_hold the client gets the
// tempfail text, as it would at once without the hold. That the hold ends
// at all shows nginx re-sent the same Auth-Login-Attempt each round: a
// growing one would make every round a new login, held afresh.
func TestNginxHoldExpires(t *testing.T) {
	s := startHoldStack(t, 2*time.Second, 1)
	got := imapLogin(t, s.imapAddr, s.f.AliceUser, s.f.AlicePassword, "NO")
	if !strings.Contains(got, config.DefaultTempfailMessage) {
		t.Errorf("answer %q lacks %q", got, config.DefaultTempfailMessage)
	}
	logs := s.logs.String()
	if !strings.Contains(logs, "hold=wait") || !strings.Contains(logs, "hold=expired") {
		t.Errorf("log lacks the WAIT rounds or their end:\n%s", logs)
	}
}
