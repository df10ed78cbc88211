package server

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/probe"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testPassword = "s3cr3t-demo"

type fixedSource struct{ snap *health.Snapshot }

func (f fixedSource) Snapshot() *health.Snapshot { return f.snap }

var (
	t0 = time.Date(2026, 11, 23, 13, 0, 0, 0, time.UTC)
)

// testSnapshot has one healthy deep-checked IMAP target carrying a password,
// one unhealthy POP3 target, and one HTTP target with a hostile name.
func testSnapshot() *health.Snapshot {
	imap := &probe.Target{
		Name: "imap://127.0.0.1:993", Protocol: "imap", Host: "127.0.0.1", Port: 993,
		TLSMode: probe.TLSImplicit, DeepCheck: true, ConnectGreeting: true, Username: "healthcheck-user",
		Password: testPassword, Mechanism: "auto",
	}
	pop3 := &probe.Target{
		Name: "pop3://10.0.0.2:110", Protocol: "pop3", Host: "10.0.0.2", Port: 110,
		TLSMode: probe.TLSPlain, HAProxyV2: true, Password: testPassword,
	}
	web := &probe.Target{
		Name: `<script>alert("x")</script>`, Protocol: "http", Host: "web", Port: 80,
		TLSMode: probe.TLSPlain,
	}
	return &health.Snapshot{
		Taken: t0.Add(10 * time.Second),
		Round: 3,
		Backends: []health.Backend{
			{
				Eligible: true, Group: health.GroupMail, ID: imap.Name, Target: health.InfoOf(imap), Weight: 1, Admin: health.Admin{State: health.AdminReady, Weight: 1, Health: health.HealthAuto, Source: health.SourceConfig}, Healthy: true, Since: t0,
				Connect: health.PhaseState{Healthy: true, LastCheck: t0.Add(9 * time.Second),
					LastSuccess: t0.Add(9 * time.Second), Latency: 1500 * time.Microsecond, ConsecutiveSuccesses: 2},
				Deep: health.PhaseState{Healthy: true, LastCheck: t0.Add(9 * time.Second),
					LastSuccess: t0.Add(9 * time.Second), Latency: 12 * time.Millisecond, ConsecutiveSuccesses: 2},
				CertNotAfter: time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC),
				Mechanism:    "PLAIN",
				Uptime: health.UptimeSummary{Hour: health.UptimeWindow{Ratio: 0.75, Checked: 40 * time.Minute},
					Day: health.UptimeWindow{Ratio: 0.75, Checked: 40 * time.Minute}, Week: health.UptimeWindow{Ratio: 0.75, Checked: 40 * time.Minute}},
				Steps: []probe.Step{
					{Name: "connect", Duration: 250 * time.Microsecond},
					{Name: "tls", Duration: 4 * time.Millisecond},
					{Name: "auth", Duration: 7500 * time.Microsecond},
				},
			},
			{
				Reason: health.ReasonUnhealthy, Group: health.GroupMail, ID: pop3.Name, Target: health.InfoOf(pop3), Weight: 1, Admin: health.Admin{State: health.AdminReady, Weight: 1, Health: health.HealthAuto, Source: health.SourceConfig}, Healthy: false, Since: t0.Add(5 * time.Second),
				Connect: health.PhaseState{Healthy: false, LastCheck: t0.Add(9 * time.Second),
					LastError: "dial tcp 10.0.0.2:110: connect: connection refused", LastReason: probe.ReasonRefused,
					ConsecutiveFailures: 3},
			},
			{Eligible: true, Group: "gateway:web", ID: web.Name, Target: health.InfoOf(web), Weight: 1, Admin: health.Admin{State: health.AdminReady, Weight: 1, Health: health.HealthAuto, Source: health.SourceConfig}, Healthy: true, Since: t0},
		},
	}
}

func newTestServer(t *testing.T, auth config.APIAuth) *Server {
	t.Helper()
	reg := prometheus.NewRegistry()
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "backline_test_gauge", Help: "test"})
	g.Set(7)
	reg.MustRegister(g)
	return New(Options{
		Address:  "127.0.0.1:0",
		Snapshot: fixedSource{testSnapshot()},
		Gatherer: reg,
		Logger:   slog.New(slog.DiscardHandler),
		APIAuth:  auth,
		Version:  "v9.9.9-test",
	})
}

type response struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, h http.Handler, method, target string, mod func(*http.Request)) response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	if mod != nil {
		mod(req)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	body, _ := io.ReadAll(rec.Result().Body)
	return response{status: rec.Code, header: rec.Header(), body: string(body)}
}

func TestBackendsJSONShape(t *testing.T) {
	h := newTestServer(t, config.APIAuth{}).Handler()
	got := do(t, h, "GET", "/api/v1/backends", nil)
	if got.status != 200 || got.header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, content type %q", got.status, got.header.Get("Content-Type"))
	}
	var doc any
	if err := json.Unmarshal([]byte(got.body), &doc); err != nil {
		t.Fatal(err)
	}
	// Not checked yet: a ratio of null, not 0.
	none := map[string]any{"ratio": nil, "checked_seconds": 0.0}
	noUptime := map[string]any{"1h": none, "24h": none, "7d": none}
	want := map[string]any{
		"round": 3.0,
		"taken": "2026-11-23T13:00:10Z",
		"backends": []any{
			map[string]any{
				"id": "imap://127.0.0.1:993", "eligible": true, "reason": "", "draining": false, "weight": 1.0, "admin": map[string]any{"state": "ready", "weight": 1.0, "health": "auto", "checks_paused": false, "source": "config"},
				"name": "imap://127.0.0.1:993", "group": "backend_health_checks", "protocol": "imap",
				"host": "127.0.0.1", "port": 993.0, "healthy": true, "deep_check": true,
				"tls_mode": "implicit", "connect_check": "greeting", "haproxy_v2": false, "since": "2026-11-23T13:00:00Z",
				"connect": map[string]any{
					"healthy": true, "last_check": "2026-11-23T13:00:09Z", "last_success": "2026-11-23T13:00:09Z",
					"latency_ms": 1.5, "consecutive_failures": 0.0, "consecutive_successes": 2.0,
				},
				"deep": map[string]any{
					"healthy": true, "last_check": "2026-11-23T13:00:09Z", "last_success": "2026-11-23T13:00:09Z",
					"latency_ms": 12.0, "consecutive_failures": 0.0, "consecutive_successes": 2.0,
				},
				"cert_not_after": "2027-01-02T03:04:05Z",
				"mechanism":      "PLAIN",
				"steps": []any{
					map[string]any{"name": "connect", "duration_ms": 0.25},
					map[string]any{"name": "tls", "duration_ms": 4.0},
					map[string]any{"name": "auth", "duration_ms": 7.5},
				},
				"uptime": map[string]any{
					"1h":  map[string]any{"ratio": 0.75, "checked_seconds": 2400.0},
					"24h": map[string]any{"ratio": 0.75, "checked_seconds": 2400.0},
					"7d":  map[string]any{"ratio": 0.75, "checked_seconds": 2400.0},
				},
			},
			map[string]any{
				"id": "pop3://10.0.0.2:110", "eligible": false, "reason": "unhealthy", "draining": false, "weight": 1.0, "admin": map[string]any{"state": "ready", "weight": 1.0, "health": "auto", "checks_paused": false, "source": "config"},
				"name": "pop3://10.0.0.2:110", "group": "backend_health_checks", "protocol": "pop3",
				"host": "10.0.0.2", "port": 110.0, "healthy": false, "deep_check": false,
				"tls_mode": "plain", "connect_check": "tcp", "haproxy_v2": true, "since": "2026-11-23T13:00:05Z",
				"connect": map[string]any{
					"healthy": false, "last_check": "2026-11-23T13:00:09Z",
					"last_error":  "dial tcp 10.0.0.2:110: connect: connection refused",
					"last_reason": "connect_refused", "latency_ms": 0.0,
					"consecutive_failures": 3.0, "consecutive_successes": 0.0,
				},
				"deep": map[string]any{
					"healthy": false, "latency_ms": 0.0, "consecutive_failures": 0.0, "consecutive_successes": 0.0,
				},
				"steps":  []any{},
				"uptime": noUptime,
			},
			map[string]any{
				"id": `<script>alert("x")</script>`, "eligible": true, "reason": "", "draining": false, "weight": 1.0, "admin": map[string]any{"state": "ready", "weight": 1.0, "health": "auto", "checks_paused": false, "source": "config"},
				"name": `<script>alert("x")</script>`, "group": "gateway:web", "protocol": "http",
				"host": "web", "port": 80.0, "healthy": true, "deep_check": false,
				"tls_mode": "plain", "connect_check": "tcp", "haproxy_v2": false, "since": "2026-11-23T13:00:00Z",
				"connect": map[string]any{
					"healthy": false, "latency_ms": 0.0, "consecutive_failures": 0.0, "consecutive_successes": 0.0,
				},
				"deep": map[string]any{
					"healthy": false, "latency_ms": 0.0, "consecutive_failures": 0.0, "consecutive_successes": 0.0,
				},
				"steps":  []any{},
				"uptime": noUptime,
			},
		},
	}
	if diff := cmp.Diff(want, doc); diff != "" {
		t.Errorf("/api/v1/backends (-want +got):\n%s", diff)
	}
}

func TestBackendsEmptyBeforeFirstSnapshot(t *testing.T) {
	h := New(Options{Snapshot: fixedSource{nil}}).Handler()
	got := do(t, h, "GET", "/api/v1/backends", nil)
	if got.status != 200 || !strings.Contains(got.body, `"backends": []`) {
		t.Fatalf("got %d %s", got.status, got.body)
	}
}

func TestOneBackend(t *testing.T) {
	h := newTestServer(t, config.APIAuth{}).Handler()
	for _, target := range []string{
		"/api/v1/backends?name=pop3%3A%2F%2F10.0.0.2%3A110",
		"/api/v1/backends?name=pop3://10.0.0.2:110",
		"/api/v1/backends/pop3:%2F%2F10.0.0.2:110",
	} {
		got := do(t, h, "GET", target, nil)
		if got.status != 200 {
			t.Errorf("%s: status %d: %s", target, got.status, got.body)
			continue
		}
		var v struct {
			Name string `json:"name"`
			Port int    `json:"port"`
		}
		if err := json.Unmarshal([]byte(got.body), &v); err != nil || v.Name != "pop3://10.0.0.2:110" || v.Port != 110 {
			t.Errorf("%s: got %+v (%v) from %s", target, v, err, got.body)
		}
	}
	got := do(t, h, "GET", "/api/v1/backends?name=imap://nowhere:1", nil)
	if got.status != 404 || got.header.Get("Content-Type") != "application/json" ||
		!strings.Contains(got.body, `"error": "no backend named \"imap://nowhere:1\""`) {
		t.Errorf("unknown name: %d %q %s", got.status, got.header.Get("Content-Type"), got.body)
	}
	got = do(t, h, "GET", "/api/v1/backends/nothing-here", nil)
	if got.status != 404 || !strings.Contains(got.body, `"error"`) {
		t.Errorf("unknown path name: %d %s", got.status, got.body)
	}
}

func TestNotFoundAndMethodNotAllowed(t *testing.T) {
	h := newTestServer(t, config.APIAuth{}).Handler()
	got := do(t, h, "GET", "/no/such/thing", nil)
	if got.status != 404 || got.header.Get("Content-Type") != "application/json" ||
		strings.TrimSpace(got.body) != "{\n  \"error\": \"no such endpoint\"\n}" {
		t.Errorf("404: %d %q %q", got.status, got.header.Get("Content-Type"), got.body)
	}
	for _, c := range []struct{ method, path string }{
		{"POST", "/api/v1/backends"}, {"DELETE", "/healthz"}, {"PUT", "/metrics"}, {"POST", "/"},
	} {
		got := do(t, h, c.method, c.path, nil)
		if got.status != 405 || got.header.Get("Allow") != "GET, HEAD" ||
			got.header.Get("Content-Type") != "application/json" || !strings.Contains(got.body, `"error": "Method Not Allowed"`) {
			t.Errorf("%s %s: %d allow=%q %q %s", c.method, c.path, got.status, got.header.Get("Allow"),
				got.header.Get("Content-Type"), got.body)
		}
	}
}

func TestHealthz(t *testing.T) {
	h := newTestServer(t, config.APIAuth{}).Handler()
	got := do(t, h, "GET", "/healthz", nil)
	want := "{\n  \"status\": \"ok\",\n  \"first_round\": true,\n  \"version\": \"v9.9.9-test\"\n}\n"
	if got.status != 200 || got.body != want {
		t.Errorf("healthz: %d %q", got.status, got.body)
	}
	before := New(Options{Snapshot: fixedSource{&health.Snapshot{}}}).Handler()
	got = do(t, before, "GET", "/healthz", nil)
	if got.status != 200 || !strings.Contains(got.body, `"first_round": false`) {
		t.Errorf("healthz before the first round: %d %q", got.status, got.body)
	}
}

func TestMetrics(t *testing.T) {
	h := newTestServer(t, config.APIAuth{}).Handler()
	got := do(t, h, "GET", "/metrics", nil)
	if got.status != 200 || !strings.Contains(got.body, "backline_test_gauge 7") {
		t.Errorf("metrics: %d %s", got.status, got.body)
	}
}

func TestAPIAuth(t *testing.T) {
	tokenFile := t.TempDir() + "/token"
	writeFile(t, tokenFile, "file-token\n")
	basic := config.APIAuth{Username: "ops", Password: "api-pass"}
	bearer := config.APIAuth{BearerFile: tokenFile}
	both := config.APIAuth{Username: "ops", Password: "api-pass", BearerToken: "inline-token"}
	publicMetrics := config.APIAuth{Username: "ops", Password: "api-pass", PublicMetrics: true}

	withBasic := func(u, p string) func(*http.Request) { return func(r *http.Request) { r.SetBasicAuth(u, p) } }
	withHeader := func(k, v string) func(*http.Request) { return func(r *http.Request) { r.Header.Set(k, v) } }
	withBearer := func(tok string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
	}
	cases := []struct {
		name   string
		auth   config.APIAuth
		path   string
		mod    func(*http.Request)
		status int
	}{
		{"open API", config.APIAuth{}, "/api/v1/backends", nil, 200},
		{"basic missing", basic, "/api/v1/backends", nil, 401},
		{"basic right", basic, "/api/v1/backends", withBasic("ops", "api-pass"), 200},
		{"basic wrong password", basic, "/api/v1/backends", withBasic("ops", "nope"), 401},
		{"basic wrong user", basic, "/api/v1/backends", withBasic("root", "api-pass"), 401},
		{"basic on one backend", basic, "/api/v1/backends?name=x", nil, 401},
		{"basic, unknown API path", basic, "/api/v1/nothing", nil, 401},
		{"bearer from file right", bearer, "/api/v1/backends", withBearer("file-token"), 200},
		{"bearer longer than the token", bearer, "/api/v1/backends", withBearer("file-token-extra"), 401},
		{"bearer wrong", bearer, "/api/v1/backends", withBearer("other"), 401},
		{"bearer sent as basic", bearer, "/api/v1/backends", withBasic("x", "file-token"), 401},
		{"both: bearer", both, "/api/v1/backends", withBearer("inline-token"), 200},
		{"both: basic", both, "/api/v1/backends", withBasic("ops", "api-pass"), 200},
		{"healthz stays open", bearer, "/healthz", nil, 200},
		{"healthz stays open with basic", basic, "/healthz", nil, 200},
		{"metrics protected", basic, "/metrics", nil, 401},
		{"metrics with basic", basic, "/metrics", withBasic("ops", "api-pass"), 200},
		{"metrics with bearer", bearer, "/metrics", withBearer("file-token"), 200},
		{"metrics public by opt-out", publicMetrics, "/metrics", nil, 200},
		{"opt-out leaves the API protected", publicMetrics, "/api/v1/backends", nil, 401},
		{"opt-out leaves the status page protected", publicMetrics, "/", nil, 401},
		{"status page protected", both, "/", nil, 401},
		{"status page with basic", both, "/", withBasic("ops", "api-pass"), 200},
		{"status page, wrong password", basic, "/", withBasic("ops", "nope"), 401},
		{"unknown path protected", basic, "/no/such/thing", nil, 401},
		{"empty basic password refused", basic, "/api/v1/backends", withBasic("ops", ""), 401},
		{"basic, bad base64", basic, "/", withHeader("Authorization", "Basic !!!"), 401},
		{"basic, no colon", basic, "/", withHeader("Authorization", "Basic b3Bz"), 401},
		{"basic, NUL in password", basic, "/", withBasic("ops", "api-pass\x00"), 401},
		{"basic, password with a trailing newline", basic, "/", withBasic("ops", "api-pass\n"), 401},
		{"bearer, scheme only", bearer, "/", withHeader("Authorization", "Bearer"), 401},
		{"bearer, empty token", bearer, "/", withHeader("Authorization", "Bearer  "), 401},
		{"bearer, oversized token", bearer, "/", withBearer(strings.Repeat("x", 64<<10)), 401},
		{"bearer, lower-case scheme", bearer, "/", withHeader("Authorization", "bearer file-token"), 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := do(t, newTestServer(t, c.auth).Handler(), "GET", c.path, c.mod)
			if got.status != c.status {
				t.Fatalf("status %d, want %d: %s", got.status, c.status, got.body)
			}
			if c.status == 401 {
				if got.header.Get("WWW-Authenticate") == "" || !strings.Contains(got.body, `"error": "authentication required"`) {
					t.Errorf("401 without challenge or JSON error: %v %s", got.header, got.body)
				}
				for _, secret := range []string{"api-pass", "file-token", "inline-token"} {
					if strings.Contains(got.body, secret) {
						t.Errorf("401 body reveals %q", secret)
					}
				}
			}
		})
	}
}

func TestAPIAuthUnreadableFileFailsClosed(t *testing.T) {
	s := newTestServer(t, config.APIAuth{Username: "ops", PasswordFile: t.TempDir() + "/missing"})
	got := do(t, s.Handler(), "GET", "/api/v1/backends", func(r *http.Request) { r.SetBasicAuth("ops", "") })
	if got.status != 503 {
		t.Errorf("status %d, want 503: %s", got.status, got.body)
	}
	err := s.Serve(t.Context())
	if err == nil || !strings.Contains(err.Error(), "server.api_auth.password_file") {
		t.Errorf("Serve: %v", err)
	}
}

// TestNoSecretsInOutput checks every route for the targets' password and
// username.
func TestNoSecretsInOutput(t *testing.T) {
	h := newTestServer(t, config.APIAuth{}).Handler()
	for _, path := range []string{"/", "/api/v1/backends", "/api/v1/backends?name=imap://127.0.0.1:993", "/metrics", "/healthz"} {
		got := do(t, h, "GET", path, nil)
		if got.status != 200 {
			t.Errorf("%s: status %d", path, got.status)
		}
		for _, secret := range []string{testPassword, "healthcheck-user"} {
			if strings.Contains(got.body, secret) {
				t.Errorf("%s reveals %q", path, secret)
			}
		}
	}
}
