package gateway

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/probe"
)

type passChecker struct{}

func (passChecker) Check(context.Context, *probe.Target, probe.Phase, probe.Options) probe.Result {
	return probe.Result{OK: true}
}

// TestDrainedBackendAnswersUnhealthy: a gateway backend in drain or maint
// gets no new requests (502 backend_unhealthy), use_when_unhealthy or
// not; back to ready, requests flow again. The ID is
// gateway:<label>@<scheme>://<host>:<port>.
func TestDrainedBackendAnswersUnhealthy(t *testing.T) {
	var hits atomic.Int64
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		echoHandler(w, r)
	}))
	defer origin.Close()
	h := newHarness(t, gatewayYAML(origin.URL, "      beta_health:\n        path: /health\n", `    - path: /x
      proxy:
        backend: api
    - path: /anyway
      proxy:
        backend:
          label: api
          use_when_unhealthy: true
`))
	groups := h.gw.HealthGroups()
	if len(groups) != 1 || len(groups[0].IDs) != 1 {
		t.Fatalf("groups: %+v", groups)
	}
	id := groups[0].IDs[0]
	if want := "gateway:api@http://" + strings.TrimPrefix(origin.URL, "http://"); id != want {
		t.Fatalf("ID %q, want %q", id, want)
	}
	e, err := health.New(groups, passChecker{}, health.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h.gw.SetHealth(e)
	h.echo("/x", nil)

	for _, st := range []health.AdminState{health.AdminDrain, health.AdminMaint} {
		if _, err := e.SetAdmin(id, health.AdminChange{State: &st}); err != nil {
			t.Fatal(err)
		}
		before := hits.Load()
		for _, path := range []string{"/x", "/anyway"} {
			resp, body := h.do(http.MethodGet, path, nil, nil)
			expectError(t, resp, body, 502, "backend_unhealthy")
		}
		if hits.Load() != before {
			t.Fatalf("%s: origin contacted", st)
		}
	}
	down := health.HealthDown
	if _, err := e.SetAdmin(id, health.AdminChange{State: ptrState(health.AdminReady), Health: &down}); err != nil {
		t.Fatal(err)
	}
	resp, body := h.do(http.MethodGet, "/anyway", nil, nil)
	expectError(t, resp, body, 502, "backend_unhealthy")

	if _, err := e.ResetAdmin(id); err != nil {
		t.Fatal(err)
	}
	h.echo("/x", nil)
	h.echo("/anyway", nil)
}

func ptrState(s health.AdminState) *health.AdminState { return &s }
