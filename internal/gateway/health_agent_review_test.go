package gateway

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/probe"
)

// okChecker passes every check.
type okChecker struct{}

func (okChecker) Check(_ context.Context, _ *probe.Target, phase probe.Phase, _ probe.Options) probe.Result {
	return probe.Result{Phase: phase, OK: true}
}

// answeringAgent answers every connection on 127.0.0.1 with line.
func answeringAgent(t *testing.T, line string) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = io.WriteString(c, line+"\n")
			c.Close()
		}
	})
	return ln.Addr().(*net.TCPAddr).Port
}

// Review (branch h-agent): an origin its agent drains, puts into
// maintenance, marks down or weighs 0% gets no request, with
// use_when_unhealthy or without; an agent answering ready, up lets them
// through.
func TestReviewGatewayAgentKeepsRequestsAway(t *testing.T) {
	for _, tc := range []struct {
		line    string
		reason  health.Reason
		reaches bool
	}{
		{"drain", health.ReasonAgentDrain, false},
		{"maint", health.ReasonAgentMaint, false},
		{"down # gone", health.ReasonAgentDown, false},
		{"stopped", health.ReasonAgentDown, false},
		{"0%", health.ReasonWeightZero, false},
		{"ready up 50%", "", true},
	} {
		t.Run(tc.line, func(t *testing.T) {
			var hits atomic.Int64
			origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				echoHandler(w, r)
			}))
			defer origin.Close()
			port := answeringAgent(t, tc.line)
			h := newHarness(t, gatewayYAML(origin.URL, fmt.Sprintf("      beta_health:\n        path: /health\n        agent: {port: %d}\n", port), `    - path: /x
      proxy:
        backend: api
    - path: /anyway
      proxy:
        backend:
          label: api
          use_when_unhealthy: true
`))
			eng, err := health.New(h.gw.HealthGroups(), okChecker{}, health.Options{})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			defer func() { cancel(); <-done }()
			go func() { defer close(done); eng.Run(ctx) }()
			h.gw.SetHealth(eng)
			waitAgentAnswered(t, eng, tc.reason)
			before := hits.Load()
			for _, path := range []string{"/x", "/anyway"} {
				resp, body := h.do(http.MethodGet, path, nil, nil)
				if tc.reaches {
					if resp.StatusCode != http.StatusOK {
						t.Errorf("%s: status %d, want 200 (body %s)", path, resp.StatusCode, body)
					}
					continue
				}
				expectError(t, resp, body, 502, "backend_unhealthy")
			}
			if !tc.reaches && hits.Load() != before {
				t.Error("origin contacted while its agent keeps it out")
			}
		})
	}
}

// waitAgentAnswered waits until the origin's agent answered and its check
// ran, and the reason is want; the deadline only guards against a hang.
func waitAgentAnswered(t *testing.T, eng *health.Engine, want health.Reason) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		snap := eng.Snapshot()
		if snap != nil && len(snap.Backends) == 1 {
			b := snap.Backends[0]
			if b.Agent != nil && !b.Agent.LastSuccess.IsZero() && !b.Deep.LastCheck.IsZero() && b.Reason == want {
				return
			}
		}
		select {
		case <-eng.Changes():
		case <-deadline:
			t.Fatalf("never reached reason %q: %+v", want, eng.Snapshot())
		}
	}
}
