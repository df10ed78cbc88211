package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/probe"
)

type okChecker struct{}

func (okChecker) Check(context.Context, *probe.Target, probe.Phase, probe.Options) probe.Result {
	return probe.Result{OK: true}
}

// adminTestServer serves an engine (not running) with two mail targets,
// one named with a URL-like ID.
func adminTestServer(t *testing.T, auth config.APIAuth) (http.Handler, *health.Engine) {
	t.Helper()
	g := health.Group{Name: health.GroupMail, ConnectInterval: 1e9, FailureThreshold: 1, RecoveryThreshold: 1, InitialHealthy: true,
		Targets: []*probe.Target{
			{Name: "mbox03", Protocol: "imap", Host: "127.0.0.1", Port: 143, Password: "never-shown-pw"},
			{Name: "imap://10.0.0.2:143", Protocol: "imap", Host: "10.0.0.2", Port: 143},
		}}
	e, err := health.New([]health.Group{g}, okChecker{}, health.Options{Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	s := New(Options{Address: "127.0.0.1:0", Snapshot: e, Logger: slog.New(slog.DiscardHandler), APIAuth: auth})
	return s.Handler(), e
}

func send(t *testing.T, h http.Handler, method, target, body string, mod func(*http.Request)) response {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, r)
	if mod != nil {
		mod(req)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return response{status: rec.Code, header: rec.Header(), body: rec.Body.String()}
}

func decodeAdmin(t *testing.T, body string) adminView {
	t.Helper()
	var v adminView
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	return v
}

func TestAdminAPIRoundTrip(t *testing.T) {
	auth := config.APIAuth{Username: "ops", Password: "admin-pw-123"}
	h, e := adminTestServer(t, auth)
	basic := func(r *http.Request) { r.SetBasicAuth("ops", "admin-pw-123") }

	if got := send(t, h, "PUT", "/api/v1/backends/mbox03/admin", `{"state":"drain"}`, nil); got.status != 401 {
		t.Fatalf("without credentials: %d", got.status)
	}
	got := send(t, h, "GET", "/api/v1/backends/mbox03/admin", "", basic)
	if v := decodeAdmin(t, got.body); got.status != 200 || v.ID != "mbox03" || v.State != "ready" || v.Source != "config" || v.Weight != 1 {
		t.Fatalf("GET: %d %s", got.status, got.body)
	}

	got = send(t, h, "PUT", "/api/v1/backends/mbox03/admin", `{"state": "drain", "weight": 50, "ttl": "30m", "why": "disk swap"}`, basic)
	v := decodeAdmin(t, got.body)
	if got.status != 200 || v.State != "drain" || v.Weight != 50 || v.Who != "ops" || v.Why != "disk swap" ||
		v.Source != "api" || v.Since == nil || v.Until == nil || v.Until.Sub(*v.Since).Minutes() != 30 {
		t.Fatalf("PUT: %d %s", got.status, got.body)
	}
	// Selection sees it at once.
	b := e.Snapshot().Backends[0]
	if b.Eligible || b.Reason != health.ReasonDrain || b.Weight != 50 {
		t.Fatalf("snapshot after PUT: %+v", b)
	}
	// The list shows it.
	list := send(t, h, "GET", "/api/v1/backends", "", basic)
	if !strings.Contains(list.body, `"reason": "drain"`) || !strings.Contains(list.body, `"why": "disk swap"`) ||
		strings.Contains(list.body, "never-shown-pw") {
		t.Fatalf("list: %s", list.body)
	}

	got = send(t, h, "PUT", "/api/v1/backends/mbox03/admin", `{"state":"maint","who":"alice"}`, basic)
	if v := decodeAdmin(t, got.body); v.Who != "alice" || v.State != "maint" || v.Why != "disk swap" {
		t.Fatalf("who given: %s", got.body)
	}

	got = send(t, h, "DELETE", "/api/v1/backends/mbox03/admin", "", basic)
	if v := decodeAdmin(t, got.body); got.status != 200 || v.State != "ready" || v.Source != "config" || v.Until != nil {
		t.Fatalf("DELETE: %d %s", got.status, got.body)
	}
	if b := e.Snapshot().Backends[0]; !b.Eligible {
		t.Fatalf("after DELETE: %+v", b)
	}
}

// TestAdminAPIIDs: IDs with "/" and ":" work raw and percent-encoded;
// unknown IDs are 404.
func TestAdminAPIIDs(t *testing.T) {
	h, e := adminTestServer(t, config.APIAuth{})
	for _, path := range []string{
		"/api/v1/backends/imap:%2F%2F10.0.0.2:143/admin",
		"/api/v1/backends/imap%3A%2F%2F10.0.0.2%3A143/admin",
		"/api/v1/backends/imap://10.0.0.2:143/admin",
	} {
		got := send(t, h, "PUT", path, `{"state":"maint"}`, nil)
		if v := decodeAdmin(t, got.body); got.status != 200 || v.ID != "imap://10.0.0.2:143" {
			t.Errorf("%s: %d %s", path, got.status, got.body)
		}
		if a, _ := e.GetAdmin("imap://10.0.0.2:143"); a.State != health.AdminMaint {
			t.Errorf("%s: not applied", path)
		}
		if got := send(t, h, "DELETE", path, "", nil); got.status != 200 {
			t.Errorf("DELETE %s: %d", path, got.status)
		}
	}
	for _, path := range []string{
		"/api/v1/backends/nope/admin",
		"/api/v1/backends/imap://10.0.0.9:143/admin",
		"/api/v1/backends/mbox03%00/admin",
	} {
		for _, m := range []string{"GET", "PUT", "DELETE"} {
			if got := send(t, h, m, path, `{"state":"drain"}`, nil); got.status != 404 {
				t.Errorf("%s %s: %d %s", m, path, got.status, got.body)
			}
		}
	}
	// net/http refuses a bad escape itself; a path given as RawPath
	// reaches the handler.
	if got := send(t, h, "PUT", "/api/v1/backends/x/admin", `{}`, func(r *http.Request) {
		r.URL.RawPath, r.URL.Path = "/api/v1/backends/%zz/admin", "/api/v1/backends/%zz/admin"
	}); got.status != 400 && got.status != 404 {
		t.Errorf("bad escape: %d %s", got.status, got.body)
	}
	if got := send(t, h, "POST", "/api/v1/backends/mbox03/admin", `{}`, nil); got.status != 405 || got.header.Get("Allow") == "" {
		t.Errorf("POST: %d %v", got.status, got.header)
	}
	// The plain backend view still answers under the ID.
	if got := send(t, h, "GET", "/api/v1/backends/mbox03", "", nil); got.status != 200 || !strings.Contains(got.body, `"id": "mbox03"`) {
		t.Errorf("backend view: %d %s", got.status, got.body)
	}
}

func TestAdminAPIHostileBodies(t *testing.T) {
	h, e := adminTestServer(t, config.APIAuth{})
	cases := map[string]string{
		"unknown field":       `{"state":"drain","color":"red"}`,
		"duplicate field":     `{"state":"ready","state":"maint"}`,
		"not an object":       `["drain"]`,
		"empty":               ``,
		"truncated":           `{"state":"drain"`,
		"trailing data":       `{"state":"drain"} {"state":"maint"}`,
		"trailing garbage":    `{"state":"drain"}x`,
		"null":                `{"weight":null}`,
		"state unknown":       `{"state":"up"}`,
		"state number":        `{"state":1}`,
		"weight high":         `{"weight":257}`,
		"weight negative":     `{"weight":-1}`,
		"weight fraction":     `{"weight":1.5}`,
		"weight string":       `{"weight":"5"}`,
		"weight huge":         `{"weight":1e400}`,
		"health unknown":      `{"health":"sick"}`,
		"paused string":       `{"checks_paused":"yes"}`,
		"ttl bad":             `{"ttl":"soon"}`,
		"ttl zero":            `{"ttl":"0s"}`,
		"ttl short":           `{"ttl":"500ms"}`,
		"ttl long":            `{"ttl":"31d"}`,
		"ttl long hours":      `{"ttl":"721h"}`,
		"ttl negative":        `{"ttl":"-5m"}`,
		"why long":            `{"why":"` + strings.Repeat("x", 257) + `"}`,
		"why newline":         `{"why":"a\nb"}`,
		"why escape":          `{"why":"\u001b[2J"}`,
		"why NUL":             `{"why":"a\u0000b"}`,
		"why bad utf8":        "{\"why\":\"\xff\"}",
		"who control":         `{"who":"eve\r\nadmin"}`,
		"who long":            `{"who":"` + strings.Repeat("w", 129) + `"}`,
		"nested":              `{"state":{"state":"drain"}}`,
		"long unknown key":    `{"` + strings.Repeat("k", 1000) + `":1}`,
		"control in key":      `{"st\u0000ate":"drain"}`,
		"deep nesting":        `{"why":` + strings.Repeat("[", 500) + `}`,
		"top-level string":    `"drain"`,
		"top-level null":      `null`,
		"object then garbage": `{}}`,
	}
	for name, body := range cases {
		got := send(t, h, "PUT", "/api/v1/backends/mbox03/admin", body, nil)
		if got.status != 400 || !strings.Contains(got.body, `"error"`) {
			t.Errorf("%s: %d %s", name, got.status, got.body)
		}
		if strings.ContainsAny(got.body, "\x00\x1b") {
			t.Errorf("%s: control characters echoed: %q", name, got.body)
		}
	}
	big := `{"why":"` + strings.Repeat("x", 5000) + `"}`
	if got := send(t, h, "PUT", "/api/v1/backends/mbox03/admin", big, nil); got.status != 413 {
		t.Errorf("oversized: %d", got.status)
	}
	if a, _ := e.GetAdmin("mbox03"); a.Source != health.SourceConfig {
		t.Fatalf("a refused body changed state: %+v", a)
	}
	// Accepted edge values.
	for _, body := range []string{`{"weight":0}`, `{"weight":256}`, `{"ttl":"1s"}`, `{"ttl":"30d"}`, `{"ttl":"720h"}`,
		`{"why":"` + strings.Repeat("é", 128) + `"}`, `{}`, ` { "health" : "down" , "checks_paused" : true } `} {
		if got := send(t, h, "PUT", "/api/v1/backends/mbox03/admin", body, nil); got.status != 200 {
			t.Errorf("%s: %d %s", body, got.status, got.body)
		}
	}
	if a, _ := e.GetAdmin("mbox03"); a.Who != "api" || a.Health != health.HealthDown || !a.ChecksPaused || a.Weight != 256 {
		t.Errorf("after edge values: %+v", a)
	}
}
