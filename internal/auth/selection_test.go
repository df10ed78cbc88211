package auth

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
)

// drained puts b in admin state drain and recomputes its eligibility with
// the registry's own function, as a published snapshot would carry it.
func drained(b health.Backend) health.Backend {
	b.Admin.State = health.AdminDrain
	b.Eligible, b.Reason, b.Draining = health.Assess(b, time.Now())
	return b
}

// inState sets another admin state or forced health the same way.
func inState(b health.Backend, state health.AdminState, forced health.ForcedHealth) health.Backend {
	b.Admin.State, b.Admin.Health = state, forced
	b.Eligible, b.Reason, b.Draining = health.Assess(b, time.Now())
	return b
}

// endpointBackend logs user in through one endpoint and returns where the
// answer sends them ("" for none) and the answer's outcome.
func endpointBackend(t *testing.T, env *testEnv, endpoint, user, pass, proto string) (string, int) {
	t.Helper()
	var r *http.Request
	switch endpoint {
	case "nginx":
		r = nginxRequest(user, pass, proto, "1")
	case "header":
		r = headerRequest(user, pass, proto)
	default:
		r = jsonRequestFor(http.MethodPost, fmt.Sprintf(`{"username":%q,"password":%q,"protocol":%q}`, user, pass, proto))
	}
	w := env.do(r)
	switch endpoint {
	case "nginx":
		if w.Header().Get("Auth-Status") != "OK" {
			return "", 500
		}
		return w.Header().Get("Auth-Server") + ":" + w.Header().Get("Auth-Port"), 200
	case "header":
		if w.Code != 200 {
			return "", w.Code
		}
		return w.Header().Get("X-Nauthilus-Proxy-Host") + ":" + w.Header().Get("X-Nauthilus-Proxy-Port"), 200
	}
	if w.Code != 200 {
		return "", w.Code
	}
	var body struct {
		Attributes map[string][]any `json:"attributes"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	host, port := body.Attributes[attrProxyHost], body.Attributes[attrProxyPort]
	if len(host) != 1 || len(port) != 1 {
		return ":", 200
	}
	return fmt.Sprint(host[0]) + ":" + fmt.Sprint(port[0]), 200
}

var endpoints = []string{"nginx", "header", "json"}

func TestDrainStopsNewSelectionsAtOnce(t *testing.T) {
	env := newEnv(t, nil)
	a := mailBackend("imap-a", "imap", "127.0.0.1", 1143, true)
	b := mailBackend("imap-b", "imap", "127.0.0.2", 2143, true)
	env.health.set(a, b)
	// bob and alice: find one on each backend, so the drain matters.
	for _, ep := range endpoints {
		got, code := endpointBackend(t, env, ep, testUser, testPassword, "imap")
		if code != 200 || got != "127.0.0.1:1143" {
			t.Fatalf("%s: alice -> %s (%d) before the drain, want imap-a", ep, got, code)
		}
	}
	env.health.set(drained(a), b)
	for _, ep := range endpoints {
		if got, code := endpointBackend(t, env, ep, testUser, testPassword, "imap"); got != "127.0.0.2:2143" {
			t.Errorf("%s: alice -> %s (%d) with imap-a drained, want imap-b", ep, got, code)
		}
	}
	// Both drained: nothing is selected; every endpoint tempfails.
	env.health.set(drained(a), drained(b))
	for _, ep := range endpoints {
		if got, code := endpointBackend(t, env, ep, testUser, testPassword, "imap"); code != 500 {
			t.Errorf("%s: with everything drained got %s (%d), want a tempfail", ep, got, code)
		}
	}
}

func TestFilterChoiceOfAnIneligibleBackendFallsToThePolicy(t *testing.T) {
	filters := &fakeFilters{fn: func(filterRequest) (*filterOutcome, error) {
		return &filterOutcome{SelectedHost: "127.0.0.1", SelectedPort: 1143, SelectedBy: "route"}, nil
	}}
	env := newEnv(t, func(_ *config.Config, o *Options) { o.filters = filters })
	a := mailBackend("imap-a", "imap", "127.0.0.1", 1143, true)
	b := mailBackend("imap-b", "imap", "127.0.0.2", 2143, true)
	for _, ep := range endpoints {
		env.health.set(a, b)
		if got, _ := endpointBackend(t, env, ep, testUser, testPassword, "imap"); got != "127.0.0.1:1143" {
			t.Errorf("%s: filter's eligible choice not taken: %s", ep, got)
		}
		env.health.set(drained(a), b)
		if got, _ := endpointBackend(t, env, ep, testUser, testPassword, "imap"); got != "127.0.0.2:2143" {
			t.Errorf("%s: filter chose drained imap-a and got %s, want the policy's imap-b", ep, got)
		}
	}
	logs := env.logs.String()
	if n := strings.Count(logs, `msg="filter selection overridden"`); n != 3 {
		t.Errorf("want one INFO per overridden request (3), got %d:\n%s", n, logs)
	}
	if !strings.Contains(logs, "selected_by=filter:route backend=imap-a reason=drain") ||
		!strings.Contains(logs, "selected_by=policy:user_hash") {
		t.Errorf("log lacks the override or the policy:\n%s", logs)
	}
}

// TestSelectionPinsOneSnapshot: a new round published while the filters run
// must not reach the policy; before, the responder read the snapshot again.
func TestSelectionPinsOneSnapshot(t *testing.T) {
	var env *testEnv
	a := mailBackend("imap-a", "imap", "127.0.0.1", 1143, true)
	b := mailBackend("imap-b", "imap", "127.0.0.2", 2143, true)
	bDown := mailBackend("imap-b", "imap", "127.0.0.2", 2143, false)
	aDown := mailBackend("imap-a", "imap", "127.0.0.1", 1143, false)
	var seen *health.Snapshot
	filters := &fakeFilters{fn: func(fr filterRequest) (*filterOutcome, error) {
		seen = fr.Snapshot
		env.health.set(aDown, b) // the next round, mid-request
		return &filterOutcome{}, nil
	}}
	env = newEnv(t, func(_ *config.Config, o *Options) { o.filters = filters })
	env.health.set(a, bDown)
	pinned := env.health.Snapshot()
	got, _ := endpointBackend(t, env, "nginx", testUser, testPassword, "imap")
	if seen != pinned {
		t.Error("the filters did not get the request's snapshot")
	}
	if got != "127.0.0.1:1143" {
		t.Errorf("selection used a later round: %s, want imap-a from the pinned one", got)
	}
}

func TestPanicFailClosed(t *testing.T) {
	env := newEnv(t, func(c *config.Config, _ *Options) {
		pct := 50
		c.Auth.Nginx.Panic = config.Panic{BelowPercent: &pct}
	})
	env.health.set(
		mailBackend("imap-a", "imap", "127.0.0.1", 1143, true),
		mailBackend("imap-b", "imap", "127.0.0.2", 2143, false),
		mailBackend("imap-c", "imap", "127.0.0.3", 3143, false),
		mailBackend("imap-d", "imap", "127.0.0.4", 4143, false),
	)
	for _, ep := range endpoints {
		if got, code := endpointBackend(t, env, ep, testUser, testPassword, "imap"); code != 500 {
			t.Errorf("%s: 1 of 4 eligible with fail_closed below 50%%: got %s (%d), want a tempfail", ep, got, code)
		}
	}
	w := env.do(nginxRequest(testUser, testPassword, "imap", "1"))
	if w.Header().Get("Auth-Wait") == "" {
		t.Errorf("a panic tempfail is a no-backend answer with Auth-Wait: %v", w.Header())
	}
	if got := counterValue(t, env.h.metrics.panic); got != 4 {
		t.Errorf("backline_selection_panic_total = %v, want 4", got)
	}
	if !strings.Contains(env.logs.String(), "panic: 1 of 4") {
		t.Errorf("log lacks the panic reason:\n%s", env.logs.String())
	}

	// 2 of 4 is not below 50 %: no panic.
	env.health.set(
		mailBackend("imap-a", "imap", "127.0.0.1", 1143, true),
		mailBackend("imap-b", "imap", "127.0.0.2", 2143, true),
		mailBackend("imap-c", "imap", "127.0.0.3", 3143, false),
		mailBackend("imap-d", "imap", "127.0.0.4", 4143, false),
	)
	if _, code := endpointBackend(t, env, "nginx", testUser, testPassword, "imap"); code != 200 {
		t.Error("2 of 4 eligible at below_percent 50 must not panic")
	}
}

func TestPanicUseAllNeverUsesDrained(t *testing.T) {
	env := newEnv(t, func(c *config.Config, _ *Options) {
		pct := 50
		c.Auth.Nginx.Panic = config.Panic{Mode: config.PanicUseAll, BelowPercent: &pct}
		c.Auth.Nginx.DefaultPolicy = config.PolicyRoundRobin
	})
	env.health.set(
		mailBackend("imap-a", "imap", "127.0.0.1", 1143, true),
		mailBackend("imap-b", "imap", "127.0.0.2", 2143, false),
		drained(mailBackend("imap-c", "imap", "127.0.0.3", 3143, true)),
		mailBackend("imap-d", "imap", "127.0.0.4", 4143, false),
		inState(mailBackend("imap-e", "imap", "127.0.0.5", 5143, false), health.AdminMaint, health.HealthAuto),
		inState(mailBackend("imap-f", "imap", "127.0.0.6", 6143, true), health.AdminReady, health.HealthDown),
	)
	seen := map[string]int{}
	for _, ep := range endpoints {
		for range 6 {
			got, code := endpointBackend(t, env, ep, testUser, testPassword, "imap")
			if code != 200 {
				t.Fatalf("%s: use_all tempfailed", ep)
			}
			seen[got]++
		}
	}
	if seen["127.0.0.3:3143"]+seen["127.0.0.5:5143"]+seen["127.0.0.6:6143"] != 0 {
		t.Errorf("use_all selected a drained, maintained or forced-down backend: %v", seen)
	}
	if seen["127.0.0.1:1143"] == 0 || seen["127.0.0.2:2143"] == 0 || seen["127.0.0.4:4143"] == 0 {
		t.Errorf("use_all did not spread over healthy and unhealthy backends: %v", seen)
	}
	if got := counterValue(t, env.h.metrics.panic); got != 18 {
		t.Errorf("backline_selection_panic_total = %v, want 18", got)
	}
	if !strings.Contains(env.logs.String(), "panic=true") {
		t.Error("the request log line does not mark the panic")
	}
}

func TestHeaderAndJSONWithoutConfiguredBackends(t *testing.T) {
	env := newEnv(t, nil) // no sieve targets
	for _, ep := range []string{"header", "json"} {
		if got, code := endpointBackend(t, env, ep, testUser, testPassword, "sieve"); code != 200 || got != ":" {
			t.Errorf("%s: no sieve targets: got %q (%d), want success without a backend", ep, got, code)
		}
	}
	if _, code := endpointBackend(t, env, "nginx", testUser, testPassword, "sieve"); code != 500 {
		t.Error("nginx needs a backend")
	}
}

func TestBackendAttributesDoNotOverrideTheDatabase(t *testing.T) {
	env := newEnv(t, func(c *config.Config, _ *Options) {
		c.Auth.Passdb = []config.Passdb{{Type: config.PassdbPasswdFile, Path: writePasswd(t,
			testUser+":{PLAIN}"+testPassword+"::::::proxy-host=10.9.9.9")}}
	})
	w := env.do(headerRequest(testUser, testPassword, "imap"))
	if got := w.Header().Get("X-Nauthilus-Proxy-Host"); got != "10.9.9.9" {
		t.Errorf("Proxy-Host %q, want the database's", got)
	}
	if got := w.Header().Get("X-Nauthilus-Proxy-Port"); got != "" {
		t.Errorf("Proxy-Port %q next to a database Proxy-Host", got)
	}
}

// BenchmarkSelection is the per-request cost of settling a selection over
// ten IMAP backends with user_hash (the nginx formatter's resolve of an IP
// literal included, as before the rework).
func BenchmarkSelection(b *testing.B) {
	env := newEnv(b, nil)
	var bs []health.Backend
	for i := range 10 {
		bs = append(bs, mailBackend(fmt.Sprintf("imap-%d", i), "imap", fmt.Sprintf("127.0.0.%d", i+1), 143, true))
	}
	env.health.set(bs...)
	req := &Request{Username: "user@example.org", Protocol: "imap"}
	ctx := httptest.NewRequest("GET", "/", nil).Context()
	b.ReportAllocs()
	for b.Loop() {
		req.snap = env.h.snapshot()
		d := &decision{outcome: outcomeOK}
		env.h.settleRequest("nginx", req, d, "")
		env.h.pickNginxBackend(ctx, d)
		if d.server == "" {
			b.Fatal(d.reason)
		}
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// TestFilterNamingTheProxyPortDoesNotRouteAroundADrain: a script that hands
// out a target's proxy_port names that target too.
func TestFilterNamingTheProxyPortDoesNotRouteAroundADrain(t *testing.T) {
	filters := &fakeFilters{fn: func(filterRequest) (*filterOutcome, error) {
		return &filterOutcome{SelectedHost: "127.0.0.2", SelectedPort: 143, SelectedBy: "route"}, nil
	}}
	env := implicitEnv(t, filters)
	env.cfg.Auth.Services.BackendHealthChecks.Targets = append(env.cfg.Auth.Services.BackendHealthChecks.Targets,
		config.Target{Name: "imap-c", Protocol: "imap", Host: "127.0.0.3", Port: 143})
	env.health.set(
		implicitBackend("imaps-a", "127.0.0.1", 993),
		drained(implicitBackend("imaps-b", "127.0.0.2", 993)),
		mailBackend("imap-c", "imap", "127.0.0.3", 143, true),
	)
	w := env.do(nginxRequest(testUser, testPassword, "imap", "1"))
	if got := w.Header().Get("Auth-Server") + ":" + w.Header().Get("Auth-Port"); got != "127.0.0.3:143" {
		t.Errorf("filter named drained imaps-b by its proxy_port and got %s, want imap-c", got)
	}
	if !strings.Contains(env.logs.String(), "backend=imaps-b reason=drain") {
		t.Errorf("no override logged:\n%s", env.logs.String())
	}
}
