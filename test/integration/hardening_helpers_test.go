package integration

import (
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/backline/backline/internal/auth"
	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/probe"
	"github.com/backline/backline/internal/testfixture"
)

// Helpers of the issue 9 hardening tests against the fixture's servers.

// newAuthHandler builds backline's auth handler with a real prober (for
// backend_login) and no Lua engine, logging into logs.
func newAuthHandler(t *testing.T, cfg *config.Config, hs health.Source, logs *lockedBuffer) *auth.Handler {
	t.Helper()
	h, err := auth.New(auth.Options{Config: cfg, Health: hs, Checker: &probe.Prober{},
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// swapHandler lets one auth listener (and so one nginx) serve handlers
// built from different configurations, one subtest after another.
type swapHandler struct {
	mu sync.Mutex
	h  http.Handler
}

func (s *swapHandler) set(h *auth.Handler) {
	mux := http.NewServeMux()
	h.Register(mux)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.h = mux
}

func (s *swapHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	h := s.h
	s.mu.Unlock()
	if h == nil {
		http.Error(w, "no handler yet", http.StatusServiceUnavailable)
		return
	}
	h.ServeHTTP(w, r)
}

// serveAuth serves h on a loopback port until the test ends and returns
// the address.
func serveAuth(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close(); <-served })
	return ln.Addr().String()
}

// answerLog records the Auth-Status, Auth-Server and Auth-Port of every
// answer the wrapped handler gives, so a test can tell what nginx was told.
type answerLog struct {
	next    http.Handler
	mu      sync.Mutex
	answers []http.Header
}

func (a *answerLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.next.ServeHTTP(w, r)
	h := http.Header{}
	for _, k := range []string{"Auth-Status", "Auth-Server", "Auth-Port"} {
		h[k] = w.Header().Values(k)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.answers = append(a.answers, h)
}

func (a *answerLog) all() []http.Header {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]http.Header(nil), a.answers...)
}

// logUntilPOP3Session returns what a fixture Dovecot logged after offset,
// once that holds a POP3 login of user and the end of that same session
// (matched by its session ID: a session that began before offset may end
// after it). The two lines come from different processes (pop3-login and
// pop3) through Dovecot's log process, which may write them in either
// order: on a loaded machine the end came first, and waiting for it after
// the login line timed out. It fails after 10 s.
func logUntilPOP3Session(t *testing.T, f *testfixture.Fixture, server string, offset int, user string) string {
	t.Helper()
	login := regexp.MustCompile(`pop3-login: Info: Login: user=<` + regexp.QuoteMeta(user) + `>.*session=<([^>]+)>`)
	deadline := time.Now().Add(10 * time.Second)
	for {
		tail := f.ReadLog(server)[offset:]
		for _, m := range login.FindAllStringSubmatch(tail, -1) {
			if regexp.MustCompile(`pop3\(` + regexp.QuoteMeta(user) + `\)<\d+><` + regexp.QuoteMeta(m[1]) + `>`).MatchString(tail) {
				return tail
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not log a POP3 session of %s within 10s; new lines:\n%s", server, user, tail)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
