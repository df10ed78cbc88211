package health

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backline/backline/internal/probe"
)

func agentTarget(name string, port int) *probe.Target {
	t := mailTarget(name, port, false)
	t.Agent = &probe.AgentCheck{Port: 9, Interval: time.Hour, Timeout: time.Second}
	return t
}

func agentGroup(weights ...int) Group {
	g := Group{Name: GroupMail, ConnectInterval: time.Hour, DeepInterval: time.Hour,
		FailureThreshold: 1, RecoveryThreshold: 1, InitialHealthy: true, Weights: weights}
	for i := range weights {
		g.Targets = append(g.Targets, agentTarget(fmt.Sprintf("a%d", i), 1143+i))
	}
	return g
}

// agentHarness drives queries by hand: no loop runs, each say or fail is
// one query answered by the given line or error.
type agentHarness struct {
	t     *testing.T
	e     *Engine
	clock *passiveClock
}

func newAgentHarness(t *testing.T, weights ...int) *agentHarness {
	t.Helper()
	clock := newPassiveClock()
	e, err := New([]Group{agentGroup(weights...)}, &scriptChecker{}, Options{Now: clock.now})
	if err != nil {
		t.Fatal(err)
	}
	return &agentHarness{t: t, e: e, clock: clock}
}

func (h *agentHarness) query(id string, r probe.AgentReply, err error) Backend {
	h.t.Helper()
	h.e.agentQuery = func(context.Context, *probe.Target) (probe.AgentReply, error) { return r, err }
	gen := h.e.gen.Load()
	s := gen.byID[id]
	h.clock.advance(time.Second)
	h.e.queryAgent(context.Background(), gen, s, s.target)
	return entry(h.t, h.e, id)
}

func (h *agentHarness) say(id, line string) Backend {
	h.t.Helper()
	return h.query(id, probe.ParseAgentReply(line), nil)
}

func (h *agentHarness) fail(id string) Backend {
	h.t.Helper()
	return h.query(id, probe.AgentReply{}, fmt.Errorf("agent 127.0.0.1:9: %w", probe.ErrAgentIncomplete))
}

// Each reply changes what it mentions and nothing else; the table runs in
// order on one backend (configured weight 10).
func TestAgentRepliesInSequence(t *testing.T) {
	h := newAgentHarness(t, 10)
	steps := []struct {
		line     string // "!" : a failed query
		eligible bool
		reason   Reason
		draining bool
		weight   int
	}{
		{"up", true, "", false, 10},
		{"drain", false, ReasonAgentDrain, true, 10},
		{"50%", false, ReasonAgentDrain, true, 5},          // weight alone keeps the drain
		{"!", false, ReasonAgentDrain, true, 5},            // a failed query changes nothing
		{"ready", true, "", false, 5},                      // ready ends the drain, weight stays
		{"maint", false, ReasonAgentMaint, false, 5},       // maint keeps no users
		{"down # disk", false, ReasonAgentMaint, false, 5}, // maint is decided first
		{"ready", false, ReasonAgentDown, false, 5},        // down stays until up
		{"fail", false, ReasonAgentDown, false, 5},
		{"stopped", false, ReasonAgentDown, false, 5},
		{"UP 100%", true, "", false, 10},
		{"0%", false, ReasonWeightZero, false, 0},
		{"1%", true, "", false, 1}, // rounded down, never to 0 above 0%
		{"300%", true, "", false, 30},
		{"", true, "", false, 30}, // an empty line says nothing
		{"banana", true, "", false, 30},
		{"up down", false, ReasonAgentDown, false, 30}, // the last word wins
		{"down up drain ready maint", false, ReasonAgentMaint, false, 30},
		{"ready up 100%", true, "", false, 10},
	}
	for i, st := range steps {
		var b Backend
		if st.line == "!" {
			b = h.fail("a0")
		} else {
			b = h.say("a0", st.line)
		}
		if b.Eligible != st.eligible || b.Reason != st.reason || b.Draining != st.draining || b.Weight != st.weight {
			t.Errorf("step %d %q: eligible %v reason %q draining %v weight %d; want %v %q %v %d",
				i, st.line, b.Eligible, b.Reason, b.Draining, b.Weight, st.eligible, st.reason, st.draining, st.weight)
		}
		if b.Admin.Weight != 10 {
			t.Errorf("step %d: admin weight %d, want the configured 10 (the agent scales the effective one)", i, b.Admin.Weight)
		}
	}
}

func TestAgentStatusShown(t *testing.T) {
	h := newAgentHarness(t, 4)
	b := entry(t, h.e, "a0")
	if b.Agent == nil || b.Agent.Admin != probe.AgentReady || b.Agent.Health != probe.AgentUp || b.Agent.WeightPercent != 100 ||
		b.Agent.Address != "127.0.0.1:9" || !b.Agent.LastCheck.IsZero() {
		t.Fatalf("before any query: %+v", b.Agent)
	}
	b = h.say("a0", "down maxconn:7 75% bogus # disk \x1b[2J full")
	a := b.Agent
	if a.Health != probe.AgentDown || a.WeightPercent != 75 || a.MaxConn != 7 || a.Description != "disk ?[2J full" ||
		a.LastUnknown != "bogus" || a.LastReply != "down maxconn:7 75% bogus # disk ?[2J full" || a.LastError != "" {
		t.Fatalf("after a reply: %+v", a)
	}
	if b.Weight != 3 {
		t.Errorf("weight %d, want 4 x 75%% = 3", b.Weight)
	}
	since := a.Since
	b = h.fail("a0")
	if b.Agent.LastError == "" || b.Agent.ConsecutiveFailures != 1 || b.Agent.LastReply != a.LastReply || !b.Agent.Since.Equal(since) {
		t.Errorf("after a failure: %+v", b.Agent)
	}
	// A reply that changes no state word keeps the description of the last one that did.
	b = h.say("a0", "75%")
	if b.Agent.Description != "disk ?[2J full" || b.Agent.ConsecutiveFailures != 0 || b.Agent.LastError != "" {
		t.Errorf("after a weight-only reply: %+v", b.Agent)
	}
	if b := entry(t, h.e, "a0"); b.Agent == nil {
		t.Fatal("agent view lost")
	}
}

// The operator outranks the agent: an agent's ready never ends an admin
// drain, forced health up sets an agent's down aside (as any check
// verdict) but not its drain, and an API weight is what the agent scales.
func TestAgentAndOperator(t *testing.T) {
	h := newAgentHarness(t, 10)
	drain, ready, up := AdminDrain, AdminReady, HealthUp
	if _, err := h.e.SetAdmin("a0", AdminChange{State: &drain}); err != nil {
		t.Fatal(err)
	}
	if b := h.say("a0", "ready"); b.Reason != ReasonDrain {
		t.Errorf("agent ready under an admin drain: reason %q, want drain", b.Reason)
	}
	if b := h.say("a0", "maint"); b.Reason != ReasonDrain {
		t.Errorf("agent maint under an admin drain: reason %q, want the operator's drain first", b.Reason)
	}
	if _, err := h.e.SetAdmin("a0", AdminChange{State: &ready}); err != nil {
		t.Fatal(err)
	}
	if b := entry(t, h.e, "a0"); b.Reason != ReasonAgentMaint {
		t.Errorf("admin ready: reason %q, want the agent's maint", b.Reason)
	}
	if _, err := h.e.SetAdmin("a0", AdminChange{Health: &up}); err != nil {
		t.Fatal(err)
	}
	if b := h.say("a0", "ready down"); !b.Eligible {
		t.Errorf("forced up over agent down: reason %q, want eligible", b.Reason)
	}
	if b := h.say("a0", "drain"); b.Reason != ReasonAgentDrain {
		t.Errorf("forced up over agent drain: reason %q, want agent_drain", b.Reason)
	}
	w := 40
	if _, err := h.e.SetAdmin("a0", AdminChange{Weight: &w}); err != nil {
		t.Fatal(err)
	}
	if b := h.say("a0", "ready 25%"); b.Weight != 10 || b.Admin.Weight != 40 {
		t.Errorf("API weight 40 at 25%%: weight %d admin %d, want 10 and 40", b.Weight, b.Admin.Weight)
	}
	if _, err := h.e.ResetAdmin("a0"); err != nil {
		t.Fatal(err)
	}
	if b := entry(t, h.e, "a0"); b.Weight != 2 || b.Reason != ReasonAgentDown {
		t.Errorf("after reset: weight %d reason %q, want 10 x 25%% = 2 (rounded down) and agent_down", b.Weight, b.Reason)
	}
}

func TestAgentDownBeforeUnhealthy(t *testing.T) {
	h := newAgentHarness(t, 1)
	h.e.gen.Load().byID["a0"].healthy = false
	h.e.mu.Lock()
	h.e.parts[0] = h.e.gen.Load().loops[0].backends()
	h.e.publishLocked(time.Time{})
	h.e.mu.Unlock()
	if b := entry(t, h.e, "a0"); b.Reason != ReasonUnhealthy {
		t.Fatalf("reason %q, want unhealthy", b.Reason)
	}
	if b := h.say("a0", "stopped"); b.Reason != ReasonAgentDown || Usable(&b) {
		t.Errorf("reason %q usable %v, want agent_down and not usable in a panic", b.Reason, Usable(&b))
	}
	if b := h.say("a0", "up"); b.Reason != ReasonUnhealthy {
		t.Errorf("agent up does not make a failing backend healthy: reason %q", b.Reason)
	}
}

func TestAgentWeight(t *testing.T) {
	for _, tc := range []struct{ weight, percent, want int }{
		{1, 100, 1}, {1, 50, 1}, {1, 0, 0}, {10, 55, 5}, {100, 250, 250}, {200, 200, MaxWeight},
		{0, 500, 0}, {256, 999999, MaxWeight}, {3, 1, 1},
	} {
		if got := agentWeight(tc.weight, tc.percent); got != tc.want {
			t.Errorf("agentWeight(%d, %d%%) = %d, want %d", tc.weight, tc.percent, got, tc.want)
		}
	}
}

// A reload keeps what the agent said while the block stays, and drops it
// when the block goes: nothing could take a drain back then.
func TestAgentStateAcrossReconfigure(t *testing.T) {
	h := newAgentHarness(t, 10, 10)
	h.say("a0", "drain 50%")
	h.say("a1", "maint")
	g := agentGroup(10, 10)
	g.Targets[1].Agent = nil
	g.Targets[0].Agent.Port = 10
	if err := h.e.Reconfigure([]Group{g}); err != nil {
		t.Fatal(err)
	}
	if b := entry(t, h.e, "a0"); b.Reason != ReasonAgentDrain || b.Weight != 5 || b.Agent.Address != "127.0.0.1:10" {
		t.Errorf("a0 after reload: %q weight %d agent %+v", b.Reason, b.Weight, b.Agent)
	}
	if b := entry(t, h.e, "a1"); !b.Eligible || b.Agent != nil {
		t.Errorf("a1 without its agent block: %q agent %+v, want eligible and no agent", b.Reason, b.Agent)
	}
}

// One whole run over TCP: the engine's own loop queries a fake agent on
// 127.0.0.1, sends the configured text and publishes the drain at once.
func TestAgentLoopOverTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, len("mbox\n"))
			_, _ = io.ReadFull(c, buf)
			got <- string(buf)
			_, _ = io.WriteString(c, "drain 50% # moving users\r\n")
			c.Close()
		}
	}()
	g := agentGroup(4)
	g.Targets[0].Agent = &probe.AgentCheck{Port: ln.Addr().(*net.TCPAddr).Port, Interval: time.Hour, Timeout: 10 * time.Second, Send: "mbox\n"}
	hr := startEngine(t, []Group{g}, &scriptChecker{}, Options{})
	for {
		s := hr.next(t)
		b := backendByName(t, s, "a0")
		if b.Reason == ReasonAgentDrain {
			if b.Weight != 2 || !b.Draining || b.Agent.Description != "moving users" {
				t.Errorf("weight %d draining %v agent %+v", b.Weight, b.Draining, b.Agent)
			}
			break
		}
	}
	if s := <-got; s != "mbox\n" {
		t.Errorf("agent read %q", s)
	}
}

// Paused checks pause the agent: the operator froze the backend's state.
func TestAgentPausedSkipsQueries(t *testing.T) {
	h := newAgentHarness(t, 1)
	queried := false
	h.e.agentQuery = func(context.Context, *probe.Target) (probe.AgentReply, error) {
		queried = true
		return probe.AgentReply{}, errors.New("unexpected")
	}
	paused := true
	if _, err := h.e.SetAdmin("a0", AdminChange{ChecksPaused: &paused}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	gen := h.e.gen.Load()
	s := gen.byID["a0"]
	h.e.agentLoop(ctx, gen, s, s.target)
	if queried {
		t.Error("a paused backend's agent was queried")
	}
}

func TestAgentMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	clock := newPassiveClock()
	e, err := New([]Group{agentGroup(8)}, &scriptChecker{}, Options{Now: clock.now, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	h := &agentHarness{t: t, e: e, clock: clock}
	h.say("a0", "drain 50%")
	h.fail("a0")
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"backline_backend_agent_up", []string{GroupMail, "a0"}, 0},
		{"backline_backend_agent_down", []string{GroupMail, "a0"}, 0},
		{"backline_backend_agent_admin", []string{GroupMail, "a0", "drain"}, 1},
		{"backline_backend_agent_admin", []string{GroupMail, "a0", "ready"}, 0},
		{"backline_backend_agent_weight_percent", []string{GroupMail, "a0"}, 50},
		{"backline_backend_agent_effective_weight", []string{GroupMail, "a0"}, 4},
		{"backline_backend_agent_queries_total", []string{GroupMail, "a0", "ok"}, 1},
		{"backline_backend_agent_queries_total", []string{GroupMail, "a0", "failed"}, 1},
		{"backline_backend_draining", []string{GroupMail, "a0"}, 1},
	} {
		if v := metricValue(t, reg, c.name, c.labels...); v != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, v, c.want)
		}
	}
}

// A reload under Run stops the old agent loops; one that removes the
// agent block drops what the agent said, and the backend is back.
func TestAgentReloadUnderRun(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = io.WriteString(c, "maint\n")
			c.Close()
		}
	}()
	g := agentGroup(1)
	g.Targets[0].Agent = &probe.AgentCheck{Port: ln.Addr().(*net.TCPAddr).Port, Interval: time.Hour, Timeout: 10 * time.Second}
	hr := startEngine(t, []Group{g}, &scriptChecker{}, Options{})
	for backendByName(t, hr.next(t), "a0").Reason != ReasonAgentMaint {
	}
	if err := hr.e.Reconfigure([]Group{agentGroup(1)}); err != nil { // same target, its agent on port 9 now
		t.Fatal(err)
	}
	if b := entry(t, hr.e, "a0"); b.Reason != ReasonAgentMaint {
		t.Errorf("after a reload keeping the block: reason %q, want agent_maint kept", b.Reason)
	}
	g = agentGroup(1)
	g.Targets[0].Agent = nil
	if err := hr.e.Reconfigure([]Group{g}); err != nil {
		t.Fatal(err)
	}
	if b := entry(t, hr.e, "a0"); !b.Eligible || b.Agent != nil {
		t.Errorf("after a reload without the block: reason %q agent %+v", b.Reason, b.Agent)
	}
}
