package lua

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/probe"
)

// signalChecker answers every probe at once and reports it on probes.
type signalChecker struct{ probes chan string }

func (c signalChecker) Check(_ context.Context, t *probe.Target, phase probe.Phase, _ probe.Options) probe.Result {
	c.probes <- t.Name
	return probe.Result{Phase: phase, OK: true}
}

// runningHealth is a running health engine with one mail backend
// (10.0.0.1:143, an interval that never comes) and a standing clock.
func runningHealth(t *testing.T, targets ...*probe.Target) (*health.Engine, chan string, *prometheus.Registry) {
	t.Helper()
	if len(targets) == 0 {
		targets = []*probe.Target{target("m1", "10.0.0.1", 143)}
	}
	probes := make(chan string, 16)
	reg := prometheus.NewRegistry()
	g := health.Group{Name: health.GroupMail, ConnectInterval: time.Hour, FailureThreshold: 1, RecoveryThreshold: 1,
		InitialHealthy: true, Targets: targets}
	e, err := health.New([]health.Group{g}, signalChecker{probes}, health.Options{Registerer: reg,
		Now: func() time.Time { return time.Date(2026, 12, 3, 7, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	for range targets {
		waitProbe(t, probes) // the first round
	}
	return e, probes, reg
}

func waitProbe(t *testing.T, probes chan string) string {
	t.Helper()
	select {
	case p := <-probes:
		return p
	case <-time.After(30 * time.Second): // a hung test, not a timing assertion
		t.Fatal("no probe")
		return ""
	}
}

func counterValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if labels[l.GetName()] != l.GetValue() {
					continue metrics
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

const reportScript = `
function nauthilus_call_filter(r)
  local ok, err = nauthilus_backend.report_failure("10.0.0.1", 143, "login failed for " .. r.username)
  nauthilus_builtin.custom_log_add("known", tostring(ok) .. " " .. tostring(err))
  ok, err = nauthilus_backend.report_failure("10.9.9.9", 143)
  nauthilus_builtin.custom_log_add("unknown", tostring(ok) .. " " .. tostring(err))
  ` + acceptReturn + `
end`

// report_failure starts a probe of the backend at once; a second report
// while it runs or within a second of it starts none (the clock stands
// still here), and is counted as limited; an unknown address is an error
// value, not a raise.
func TestReportFailureProbesNowAndIsLimited(t *testing.T) {
	he, probes, reg := runningHealth(t)
	e, logs := newEngine(t, engineSetup{filters: []config.LuaFilter{filter(t, "f", reportScript)}, health: he})
	run := func() *FilterOutcome {
		t.Helper()
		out, err := e.RunFilters(context.Background(), &Request{Username: "alice", Password: "s3cret-Passw0rd"})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	out := run()
	if v, _ := logValue(out, "known"); v != "true nil" {
		t.Errorf("known backend: %v", v)
	}
	if v, _ := logValue(out, "unknown"); v != "nil report_failure: no mail backend at 10.9.9.9:143" {
		t.Errorf("unknown backend: %v", v)
	}
	if p := waitProbe(t, probes); p != "m1" {
		t.Fatalf("probe of %q", p)
	}
	// Wait for the requested probe to finish: asking again shares it.
	if r, joined, err := he.ProbeNow("m1", health.RecheckAPI, ""); err == nil && joined {
		<-r.Done()
	}
	out = run()
	if v, _ := logValue(out, "known"); v != "false nil" {
		t.Errorf("second report within the limit: %v", v)
	}
	if n := counterValue(t, reg, "backline_probe_requests_total", map[string]string{"source": "lua", "result": "limited"}); n != 1 {
		t.Errorf("limited = %v", n)
	}
	if n := counterValue(t, reg, "backline_probe_requests_total", map[string]string{"source": "lua", "result": "started"}); n != 1 {
		t.Errorf("started = %v", n)
	}
	select {
	case p := <-probes:
		t.Errorf("a dropped report probed %q", p)
	default:
	}
	if strings.Contains(logs.String(), "s3cret-Passw0rd") {
		t.Error("the request password reached the log")
	}
}

// Wrong argument types raise (the filter fails, as with
// select_backend_server); nothing is probed.
func TestReportFailureBadArguments(t *testing.T) {
	src := snapshotOf(mail(target("m1", "10.0.0.1", 143), true))
	for call, want := range map[string]string{
		`report_failure()`:                        "bad argument to report_failure",
		`report_failure("10.0.0.1")`:              "bad argument to report_failure",
		`report_failure(143, "10.0.0.1")`:         "bad argument to report_failure",
		`report_failure("10.0.0.1", 143.5)`:       "bad argument to report_failure",
		`report_failure("10.0.0.1", 143, {})`:     "bad argument to report_failure",
		`report_failure("10.0.0.1", 143, "a", 1)`: "bad argument to report_failure",
		`report_failure("10.0.0.1", 0)`:           "port must be between 1 and 65535, got 0",
		`report_failure("10.0.0.1", 70000)`:       "port must be between 1 and 65535, got 70000",
	} {
		script := "function nauthilus_call_filter(r)\n  nauthilus_backend." + call + "\n  " + acceptReturn + "\nend"
		_, err, _ := runOne(t, script, engineSetup{health: src})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", call, err, want)
		}
	}
}

// Without a health engine (backline lua test's static list) a known
// address is an error value too; a dry run (explain) checks the address,
// probes nothing and lists the call as suppressed.
func TestReportFailureWithoutEngineAndInDryRun(t *testing.T) {
	src := snapshotOf(mail(target("m1", "10.0.0.1", 143), true))
	out, err, _ := runOne(t, reportScript, engineSetup{health: src})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := logValue(out, "known"); v != "nil report_failure: no health checks run here" {
		t.Errorf("static source: %v", v)
	}

	he, probes, _ := runningHealth(t)
	e, _ := newEngine(t, engineSetup{filters: []config.LuaFilter{filter(t, "f", reportScript)}, health: he})
	out, err = e.RunFilters(context.Background(), &Request{Username: "alice", DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := logValue(out, "known"); v != "true nil" {
		t.Errorf("dry run: %v", v)
	}
	if v, _ := logValue(out, "unknown"); v != "nil report_failure: no mail backend at 10.9.9.9:143" {
		t.Errorf("dry run unknown: %v", v)
	}
	if len(out.Suppressed) != 1 || !strings.HasSuffix(out.Suppressed[0], "nauthilus_backend.report_failure") {
		t.Errorf("suppressed %v", out.Suppressed)
	}
	if _, _, err := he.ProbeNow("m1", health.RecheckAPI, ""); err != nil {
		t.Errorf("the dry run used up the limit or left a request: %v", err)
	}
	if p := waitProbe(t, probes); p != "m1" {
		t.Errorf("probe %q", p)
	}
}

// Password scripts only look at backends: the call raises there.
func TestReportFailureNotInPasswordScripts(t *testing.T) {
	path := writeScript(t, "pw.lua", `
function nauthilus_backend_verify_password(r)
  nauthilus_backend.report_failure("10.0.0.1", 143)
  return nauthilus_builtin.BACKEND_RESULT_OK, nauthilus_backend_result.new()
end`, 0)
	e, _ := newEngine(t, engineSetup{health: snapshotOf(mail(target("m1", "10.0.0.1", 143), true))})
	p, err := e.NewPasswordScript(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Verify(context.Background(), &Request{Username: "alice", Password: "pw"})
	if err == nil || !strings.Contains(err.Error(), "nauthilus_backend.report_failure is only available in filters") {
		t.Errorf("password script: %v", err)
	}
}

// The example of docs/nauthilus.md: the connection check of the first
// server fails (no checker here: it fails without a connection), the
// filter reports it and selects the second.
func TestReportFailureDocExample(t *testing.T) {
	he, probes, _ := runningHealth(t, target("m1", "127.0.0.1", 1143), target("m2", "127.0.0.2", 1143))
	script := `
function nauthilus_call_filter(r)
  local servers = nauthilus_backend.get_backend_servers()
  local s = servers[1]
  local ok, err = nauthilus_backend.check_backend_connection(s.protocol, s.host, s.port, s.tls, false, s.haproxy_v2)
  if not ok then
    nauthilus_backend.report_failure(s.host, s.port, err)   -- re-check it now; pick another meanwhile
    s = servers[2]
  end
  nauthilus_backend.select_backend_server(s.host, s.port)
  ` + acceptReturn + `
end`
	e, _ := newEngine(t, engineSetup{filters: []config.LuaFilter{filter(t, "f", script)}, health: he})
	out, err := e.RunFilters(context.Background(), &Request{Username: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if out.Selected == nil || out.Selected.Host != "127.0.0.2" {
		t.Errorf("selected %+v", out.Selected)
	}
	if p := waitProbe(t, probes); p != "m1" {
		t.Errorf("probe %q, want the reported m1", p)
	}
}
