package auth

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/backline/backline/internal/testutil"

	"go.uber.org/goleak"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/fastlog"
	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/probe"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeHealth is a health.Source whose snapshot the test controls.
type fakeHealth struct {
	mu   sync.Mutex
	snap *health.Snapshot
}

func (f *fakeHealth) Snapshot() *health.Snapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.snap
}

func (f *fakeHealth) set(backends ...health.Backend) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.snap = &health.Snapshot{Backends: backends}
}

// ProbeTarget implements health.TargetLookup from the snapshot entry (the
// fake's targets carry no secrets).
func (f *fakeHealth) ProbeTarget(id string) (*probe.Target, bool) {
	for _, b := range f.Snapshot().Backends {
		if b.ID == id {
			t := b.Target
			return &probe.Target{Name: t.Name, Protocol: t.Protocol, Host: t.Host, Port: t.Port, TLSMode: t.TLSMode}, true
		}
	}
	return nil, false
}

func (f *fakeHealth) TestPasswords() []string { return nil }

func mailBackend(name, proto, host string, port int, healthy bool) health.Backend {
	return health.BackendFor(health.GroupMail,
		&probe.Target{Name: name, Protocol: proto, Host: host, Port: port, TLSMode: probe.TLSPlain}, healthy)
}

// fakeChecker answers backend_login checks by password.
type fakeChecker struct {
	mu       sync.Mutex
	calls    []probe.Target
	password string
	down     bool
}

func (f *fakeChecker) Check(_ context.Context, t *probe.Target, _ probe.Phase, _ probe.Options) probe.Result {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, *t)
	switch {
	case f.down:
		return probe.Result{Reason: probe.ReasonRefused}
	case t.Password == f.password:
		return probe.Result{OK: true}
	default:
		return probe.Result{Reason: probe.ReasonAuth}
	}
}

// fakeFilters returns a fixed outcome and records what it saw.
type fakeFilters struct {
	mu   sync.Mutex
	seen []filterRequest
	fn   func(filterRequest) (*filterOutcome, error)
}

func (f *fakeFilters) runFilters(_ context.Context, fr filterRequest) (*filterOutcome, error) {
	f.mu.Lock()
	f.seen = append(f.seen, fr)
	f.mu.Unlock()
	return f.fn(fr)
}

type syncBuffer = testutil.LogBuffer

const (
	testUser     = "alice"
	testPassword = "s3cr3t-p4ss"
	bobPassword  = "bob-Pa55"
)

type testEnv struct {
	t       testing.TB
	h       *Handler
	mux     *http.ServeMux
	health  *fakeHealth
	logs    *syncBuffer
	cfg     *config.Config
	checker *fakeChecker
}

// writePasswd writes a passwd-file and returns its path.
func writePasswd(t *testing.T, lines ...string) string { return writePasswdB(t, lines...) }

func writePasswdB(t testing.TB, lines ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "passwd")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// newEnv builds a handler over a passwd-file with alice and bob, two
// healthy IMAP backends, one POP3 and one SMTP backend.
func newEnv(t testing.TB, mutate func(*config.Config, *Options)) *testEnv {
	t.Helper()
	path := writePasswdB(t,
		"# test users",
		testUser+":{PLAIN}"+testPassword+"::::::mailhost=10.0.0.5 quota=1G",
		"bob:{PLAIN}"+bobPassword,
	)
	cfg := &config.Config{}
	cfg.Auth.Passdb = []config.Passdb{{Type: config.PassdbPasswdFile, Path: path}}
	fh := &fakeHealth{}
	fh.set(
		mailBackend("imap-a", "imap", "127.0.0.1", 1143, true),
		mailBackend("imap-b", "imap", "127.0.0.2", 2143, true),
		mailBackend("pop3-a", "pop3", "127.0.0.1", 1110, true),
		mailBackend("smtp-a", "smtp", "127.0.0.1", 1587, true),
	)
	logs := &syncBuffer{}
	checker := &fakeChecker{password: testPassword}
	opts := Options{
		Config:  cfg,
		Health:  fh,
		Checker: checker,
		Logger:  slog.New(fastlog.Wrap(logs, false, nil)),
	}
	if mutate != nil {
		mutate(cfg, &opts)
	}
	h, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	mux := http.NewServeMux()
	h.Register(mux)
	env := &testEnv{t: t, h: h, mux: mux, health: fh, logs: logs, cfg: cfg, checker: checker}
	t.Cleanup(func() { env.assertNoSecrets() })
	return env
}

// nginxRequest builds an auth_http request as nginx sends it.
func nginxRequest(user, pass, proto string, attempt string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/api/v1/auth/nginx", nil)
	r.Header.Set("Auth-Method", "plain")
	r.Header.Set("Auth-User", user)
	r.Header.Set("Auth-Pass", pass)
	r.Header.Set("Auth-Protocol", proto)
	r.Header.Set("Auth-Login-Attempt", attempt)
	r.Header.Set("Client-IP", "192.0.2.7")
	return r
}

func (e *testEnv) do(r *http.Request) *httptest.ResponseRecorder {
	e.t.Helper()
	w := httptest.NewRecorder()
	e.mux.ServeHTTP(w, r)
	for _, secret := range []string{testPassword, bobPassword} {
		for k, vs := range w.Header() {
			for _, v := range vs {
				if strings.Contains(v, secret) {
					e.t.Errorf("response header %s carries a password", k)
				}
			}
		}
		if strings.Contains(w.Body.String(), secret) {
			e.t.Errorf("response body carries a password: %q", w.Body.String())
		}
	}
	return w
}

func (e *testEnv) assertNoSecrets() {
	logs := e.logs.String()
	for _, secret := range []string{testPassword, bobPassword, "wrong-password"} {
		if strings.Contains(logs, secret) {
			e.t.Errorf("logs contain a password:\n%s", logs)
		}
	}
}

// headerMap flattens a response's headers minus the session id, which is random.
func headerMap(t *testing.T, w *httptest.ResponseRecorder) map[string]string {
	t.Helper()
	out := map[string]string{}
	for k, vs := range w.Header() {
		if len(vs) != 1 {
			t.Fatalf("header %s has %d values", k, len(vs))
		}
		out[k] = vs[0]
	}
	sess := out["X-Nauthilus-Session"]
	if len(sess) != sessionIDLen {
		t.Errorf("X-Nauthilus-Session %q is not %d characters", sess, sessionIDLen)
	}
	delete(out, "X-Nauthilus-Session")
	return out
}
