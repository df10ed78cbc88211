package gateway

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/probe"
)

// drainAnswerChecker answers every check with a drain_on_status status
// until serve is set.
type drainAnswerChecker struct{ serve atomic.Bool }

func (c *drainAnswerChecker) Check(_ context.Context, _ *probe.Target, phase probe.Phase, _ probe.Options) probe.Result {
	if c.serve.Load() {
		return probe.Result{Phase: phase, OK: true}
	}
	return probe.Result{Phase: phase, OK: true, DrainStatus: 404}
}

// TestHealthMethodBodyDrain: beta_health's method, body and
// drain_on_status reach the probe target; a drain answer keeps new
// requests away (use_when_unhealthy or not, as an admin drain does) and
// an expected status lets them through again.
func TestHealthMethodBodyDrain(t *testing.T) {
	var hits atomic.Int64
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		echoHandler(w, r)
	}))
	defer origin.Close()
	h := newHarness(t, gatewayYAML(origin.URL, `      beta_health:
        path: /health
        method: post
        body: '{"probe":true}'
        headers:
          Content-Type: application/json
        drain_on_status: [404]
`, `    - path: /x
      proxy:
        backend: api
    - path: /anyway
      proxy:
        backend:
          label: api
          use_when_unhealthy: true
`))
	groups := h.gw.HealthGroups()
	if len(groups) != 1 || len(groups[0].Targets) != 1 {
		t.Fatalf("groups: %+v", groups)
	}
	e := groups[0].Targets[0].HTTP
	if e.Method != "POST" || e.Body != `{"probe":true}` || !reflect.DeepEqual(e.DrainStatuses, []int{404}) {
		t.Fatalf("probe expectation: method %q body %q drain %v", e.Method, e.Body, e.DrainStatuses)
	}
	checker := &drainAnswerChecker{}
	eng, err := health.New(groups, checker, health.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go eng.Run(ctx)
	h.gw.SetHealth(eng)
	waitReason(t, eng, health.ReasonCheckDrain)

	before := hits.Load()
	for _, path := range []string{"/x", "/anyway"} {
		resp, body := h.do(http.MethodGet, path, nil, nil)
		expectError(t, resp, body, 502, "backend_unhealthy")
	}
	if hits.Load() != before {
		t.Fatal("origin contacted while its check drains it")
	}
	checker.serve.Store(true)
	id := groups[0].IDs[0]
	if _, _, err := eng.ProbeNow(id, health.RecheckAPI, "test"); err != nil {
		t.Fatal(err)
	}
	waitReason(t, eng, "")
	h.echo("/x", nil)
}

// waitReason waits for the first backend's reason; the deadline only
// guards against a hang, it measures nothing.
func waitReason(t *testing.T, eng *health.Engine, want health.Reason) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		if snap := eng.Snapshot(); snap != nil && len(snap.Backends) == 1 && snap.Backends[0].Reason == want &&
			snap.Backends[0].Deep.LastCheck.After(time.Time{}) {
			return
		}
		select {
		case <-eng.Changes():
		case <-deadline:
			t.Fatalf("backend never reached reason %q: %+v", want, eng.Snapshot())
		}
	}
}
