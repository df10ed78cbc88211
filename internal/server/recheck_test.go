package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/probe"
)

// gatedChecker succeeds at once, except for target held while hold is
// set: that probe waits for its context (the engine's shutdown).
type gatedChecker struct {
	hold atomic.Bool
	held string
}

func (c *gatedChecker) Check(ctx context.Context, t *probe.Target, phase probe.Phase, _ probe.Options) probe.Result {
	if c.hold.Load() && t.Name == c.held {
		<-ctx.Done()
		return probe.Result{Phase: phase, Reason: probe.ReasonTimeout, Err: ctx.Err()}
	}
	return probe.Result{Phase: phase, OK: true}
}

// recheckTestServer serves a running engine whose interval (an hour)
// never comes: every probe after the first round is a requested one. Its
// clock stands still, so a second request is always within the limit.
func recheckTestServer(t *testing.T, auth config.APIAuth, checker probe.Checker) http.Handler {
	t.Helper()
	g := health.Group{Name: health.GroupMail, ConnectInterval: 3600e9, FailureThreshold: 1, RecoveryThreshold: 1, InitialHealthy: true,
		Targets: []*probe.Target{
			{Name: "mbox03", Protocol: "imap", Host: "127.0.0.1", Port: 143, Password: "never-shown-pw"},
			{Name: "imap://10.0.0.2:143", Protocol: "imap", Host: "10.0.0.2", Port: 143},
		}}
	e, err := health.New([]health.Group{g}, checker, health.Options{Registerer: prometheus.NewRegistry(),
		Now: func() time.Time { return time.Date(2026, 12, 3, 7, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return New(Options{Address: "127.0.0.1:0", Snapshot: e, Logger: slog.New(slog.DiscardHandler), APIAuth: auth}).Handler()
}

func decodeRecheck(t *testing.T, got response) recheckBody {
	t.Helper()
	var v recheckBody
	if err := json.Unmarshal([]byte(got.body), &v); err != nil {
		t.Fatalf("%v: %d %s", err, got.status, got.body)
	}
	return v
}

func TestRecheckAPI(t *testing.T) {
	h := recheckTestServer(t, config.APIAuth{Username: "ops", Password: "admin-pw-123"}, &gatedChecker{})
	basic := func(r *http.Request) { r.SetBasicAuth("ops", "admin-pw-123") }

	if got := send(t, h, "POST", "/api/v1/backends/mbox03/recheck", "", nil); got.status != 401 {
		t.Fatalf("without credentials: %d %s", got.status, got.body)
	}
	if got := send(t, h, "POST", "/api/v1/backends/mbox03/recheck", "", func(r *http.Request) { r.SetBasicAuth("ops", "wrong") }); got.status != 401 {
		t.Fatalf("wrong password: %d", got.status)
	}
	got := send(t, h, "POST", "/api/v1/backends/nope/recheck", "", basic)
	if got.status != 404 || !strings.Contains(got.body, `"error": "no backend with id \"nope\""`) {
		t.Fatalf("unknown id: %d %s", got.status, got.body)
	}
	got = send(t, h, "GET", "/api/v1/backends/mbox03/recheck", "", basic)
	if got.status != 405 || got.header.Get("Allow") != "POST" {
		t.Fatalf("GET: %d %v", got.status, got.header)
	}
	for _, bad := range []string{"x", "-1s", "61s"} {
		if got := send(t, h, "POST", "/api/v1/backends/mbox03/recheck?wait="+bad, "", basic); got.status != 400 {
			t.Fatalf("wait=%s: %d %s", bad, got.status, got.body)
		}
	}

	// The URL-like ID, raw and percent-encoded (the second is limited).
	got = send(t, h, "POST", "/api/v1/backends/imap://10.0.0.2:143/recheck?wait=60s", "", basic)
	v := decodeRecheck(t, got)
	if got.status != 200 || v.ID != "imap://10.0.0.2:143" || v.Status != "done" || v.Joined || v.Requested.IsZero() ||
		v.Probe == nil || !v.Probe.OK || v.Probe.Phase != "connect" || v.Probe.Finished.IsZero() ||
		v.Backend == nil || v.Backend.ID != "imap://10.0.0.2:143" || !v.Backend.Healthy {
		t.Fatalf("recheck: %d %s", got.status, got.body)
	}
	got = send(t, h, "POST", "/api/v1/backends/imap:%2F%2F10.0.0.2:143/recheck", "", basic)
	if got.status != 429 || got.header.Get("Retry-After") != "1" || !strings.Contains(got.body, `"error"`) {
		t.Fatalf("second within a second: %d %v %s", got.status, got.header, got.body)
	}
	if strings.Contains(got.body, "never-shown-pw") {
		t.Fatal("test password in the answer")
	}
}

// A probe that outlasts ?wait is answered 202 "running"; a second request
// meanwhile shares it (joined).
func TestRecheckAPIRunning(t *testing.T) {
	checker := &gatedChecker{held: "mbox03"}
	h := recheckTestServer(t, config.APIAuth{}, checker)
	checker.hold.Store(true)
	got := send(t, h, "POST", "/api/v1/backends/mbox03/recheck?wait=0s", "", nil)
	v := decodeRecheck(t, got)
	if got.status != 202 || v.Status != "running" || v.Probe != nil || v.Backend != nil {
		t.Fatalf("running: %d %s", got.status, got.body)
	}
	got = send(t, h, "POST", "/api/v1/backends/mbox03/recheck?wait=0s", "", nil)
	if v := decodeRecheck(t, got); got.status != 202 || !v.Joined {
		t.Fatalf("second while running: %d %s", got.status, got.body)
	}
}
