package health

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/backline/backline/internal/probe"
)

// Review tests of the agent check in the registry (branch h-agent).

// An operator's drain keeps the users stored for a backend, but not when
// its agent put it into maintenance: agent maint keeps no users (docs:
// "out of rotation, sticky users included"), whoever else drains it.
func TestReviewOperatorDrainDoesNotKeepUsersOfAgentMaint(t *testing.T) {
	h := newAgentHarness(t, 10)
	drain := AdminDrain
	if _, err := h.e.SetAdmin("a0", AdminChange{State: &drain}); err != nil {
		t.Fatal(err)
	}
	if b := h.say("a0", "ready"); !b.Draining {
		t.Fatalf("operator drain alone: draining %v, want true (users stay)", b.Draining)
	}
	b := h.say("a0", "maint")
	if b.Eligible || b.Draining {
		t.Errorf("operator drain, agent maint: eligible %v draining %v (reason %q); want neither: sticky users must not reach a backend its agent took out",
			b.Eligible, b.Draining, b.Reason)
	}
	if b := h.say("a0", "drain"); !b.Draining {
		t.Errorf("operator drain, agent drain: draining %v, want true", b.Draining)
	}
	if b := h.say("a0", "ready down"); b.Draining {
		t.Errorf("operator drain, agent down: draining %v, want false", b.Draining)
	}
}

// Every combination of the operator's admin state and the agent's word:
// the operator's reason shows first, and the backend keeps users only
// where both sides allow it.
func TestReviewAgentOperatorMatrix(t *testing.T) {
	type want struct {
		reason   Reason
		draining bool
	}
	cases := map[AdminState]map[string]want{
		AdminReady: {"ready": {"", false}, "drain": {ReasonAgentDrain, true}, "maint": {ReasonAgentMaint, false}},
		AdminDrain: {"ready": {ReasonDrain, true}, "drain": {ReasonDrain, true}, "maint": {ReasonDrain, false}},
		AdminMaint: {"ready": {ReasonMaint, false}, "drain": {ReasonMaint, false}, "maint": {ReasonMaint, false}},
	}
	for admin, words := range cases {
		for word, w := range words {
			h := newAgentHarness(t, 10)
			st := admin
			if _, err := h.e.SetAdmin("a0", AdminChange{State: &st}); err != nil {
				t.Fatal(err)
			}
			b := h.say("a0", word)
			if b.Reason != w.reason || b.Draining != w.draining {
				t.Errorf("admin %s, agent %s: reason %q draining %v; want %q %v", admin, word, b.Reason, b.Draining, w.reason, w.draining)
			}
		}
	}
}

// Weight edge cases: 1% of weight 1, 1000%, 0%, and an API weight of 0
// that no percentage brings back.
func TestReviewAgentWeightEdges(t *testing.T) {
	for _, tc := range []struct{ weight, percent, want int }{
		{1, 1, 1}, {1, 1000, 10}, {100, 1000, MaxWeight}, {MaxWeight, 999999, MaxWeight}, {5, 0, 0}, {0, 100, 0}, {0, 999999, 0},
	} {
		if got := agentWeight(tc.weight, tc.percent); got != tc.want {
			t.Errorf("agentWeight(%d, %d%%) = %d, want %d", tc.weight, tc.percent, got, tc.want)
		}
	}
	h := newAgentHarness(t, 10)
	zero := 0
	if _, err := h.e.SetAdmin("a0", AdminChange{Weight: &zero}); err != nil {
		t.Fatal(err)
	}
	if b := h.say("a0", "1000%"); b.Weight != 0 || b.Reason != ReasonWeightZero {
		t.Errorf("API weight 0 at 1000%%: weight %d reason %q", b.Weight, b.Reason)
	}
}

// holdingAgent accepts connections on 127.0.0.1 and never answers; each
// accepted connection is announced. close ends it all.
type holdingAgent struct {
	ln       net.Listener
	accepted chan struct{}
	mu       sync.Mutex
	conns    []net.Conn
	done     sync.WaitGroup
}

func newHoldingAgent(t *testing.T) *holdingAgent {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := &holdingAgent{ln: ln, accepted: make(chan struct{}, 64)}
	a.done.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			a.mu.Lock()
			a.conns = append(a.conns, c)
			a.mu.Unlock()
			a.accepted <- struct{}{}
		}
	})
	return a
}

func (a *holdingAgent) port() int { return a.ln.Addr().(*net.TCPAddr).Port }

func (a *holdingAgent) waitAccept(t *testing.T) {
	t.Helper()
	select {
	case <-a.accepted:
	case <-time.After(30 * time.Second): // a hung test, not a timing assertion
		t.Fatal("agent never asked")
	}
}

func (a *holdingAgent) close() {
	a.ln.Close()
	a.done.Wait()
	a.mu.Lock()
	for _, c := range a.conns {
		c.Close()
	}
	a.mu.Unlock()
}

// Reloads that keep, remove and re-add the agent block, and the stop,
// end every agent goroutine, also one waiting on an agent that never
// answers (its timeout an hour away).
func TestReviewAgentGoroutinesEndOnReloadRemovalStop(t *testing.T) {
	before := goleak.IgnoreCurrent()
	agent := newHoldingAgent(t)
	group := func(withAgent bool) Group {
		g := agentGroup(1, 1)
		for _, tg := range g.Targets {
			tg.Agent = nil
			if withAgent {
				tg.Agent = &probe.AgentCheck{Port: agent.port(), Interval: time.Hour, Timeout: time.Hour}
			}
		}
		return g
	}
	hr := startEngine(t, []Group{group(true)}, &scriptChecker{}, Options{})
	agent.waitAccept(t)
	agent.waitAccept(t)
	for _, withAgent := range []bool{true, false, true} {
		if err := hr.e.Reconfigure([]Group{group(withAgent)}); err != nil {
			t.Fatal(err)
		}
		if withAgent {
			agent.waitAccept(t)
			agent.waitAccept(t)
		}
	}
	hr.stop()
	agent.close()
	goleak.VerifyNone(t, before)
}

// The whole way from an agent that echoes its send text in upper case to
// the log lines, the snapshot's agent view and the metrics: no trace of
// the send text.
func TestReviewAgentSendNeverInLogsSnapshotMetrics(t *testing.T) {
	const token = "Zq8t7Kc4mR2xW9pL"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var served sync.WaitGroup
	defer served.Wait()
	defer ln.Close()
	served.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, len(token)+1)
			_, _ = io.ReadFull(c, buf)
			_, _ = io.WriteString(c, "drain "+strings.ToUpper(string(buf[:len(token)]))+" # rejected "+strings.ToLower(token)+"\n")
			c.Close()
		}
	})
	var logs bytes.Buffer
	reg := prometheus.NewPedanticRegistry()
	clock := newPassiveClock()
	g := agentGroup(4)
	g.Targets[0].Agent = &probe.AgentCheck{Port: ln.Addr().(*net.TCPAddr).Port, Interval: time.Hour, Timeout: 30 * time.Second, Send: token + "\n"}
	e, err := New([]Group{g}, &scriptChecker{}, Options{Now: clock.now, Registerer: reg,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	gen := e.gen.Load()
	s := gen.byID["a0"]
	e.queryAgent(context.Background(), gen, s, s.target)
	b := entry(t, e, "a0")
	if b.Reason != ReasonAgentDrain {
		t.Fatalf("reason %q, want agent_drain (the query worked)", b.Reason)
	}
	metrics := gatheredText(t, reg)
	for where, text := range map[string]string{
		"logs": logs.String(), "metrics": metrics,
		"snapshot": b.Agent.LastReply + " " + b.Agent.Description + " " + b.Agent.LastUnknown + " " + b.Agent.LastError,
	} {
		if strings.Contains(strings.ToLower(text), strings.ToLower(token)) {
			t.Errorf("%s show the send text: %s", where, text)
		}
	}
}

// gatheredText is every gathered series, labels and values, as text.
func gatheredText(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, mf := range mfs {
		b.WriteString(mf.String())
		b.WriteByte('\n')
	}
	return b.String()
}
