package health

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/backline/backline/internal/probe"
)

// Reasons set by a backend's agent check (HAProxy's agent-check).
const (
	// ReasonAgentMaint: the agent answered "maint".
	ReasonAgentMaint Reason = "agent_maint"
	// ReasonAgentDrain: the agent answered "drain"; the backend keeps the
	// users the sticky policy stored for it, as in an operator's drain.
	ReasonAgentDrain Reason = "agent_drain"
	// ReasonAgentDown: the agent answered "down", "fail" or "stopped".
	ReasonAgentDown Reason = "agent_down"
)

// AgentStatus is what a backend's agent said, as snapshots show it. Each
// reply changes only what it mentions; a failed query changes nothing (the
// regular check tests the service, as in HAProxy), so only the agent can
// undo what it did, or a reload that removes the agent block.
type AgentStatus struct {
	Address string // the agent's host:port
	// Admin is the agent's rotation word: ready (also before any reply),
	// drain or maint.
	Admin probe.AgentAdmin
	// Health is its operational word: up (also before any reply), down,
	// fail or stopped.
	Health probe.AgentHealth
	// Description is the text after '#' of the last reply with an admin
	// or health word (sanitised, bounded).
	Description string
	// WeightPercent scales the backend's weight (100 until the agent says
	// otherwise).
	WeightPercent int
	// MaxConn is the last maxconn:N the agent reported (-1: none); shown,
	// not enforced.
	MaxConn int
	// LastReply is the last line read (sanitised); LastUnknown its first
	// word that is no agent word.
	LastReply   string
	LastUnknown string
	LastCheck   time.Time // last query, answered or not
	LastSuccess time.Time // last line read
	LastError   string    // of the last query; empty after a line
	// ConsecutiveFailures counts queries without a line since the last one.
	ConsecutiveFailures int
	// Since is the last change of Admin, Health or WeightPercent.
	Since time.Time
}

// down reports whether the agent marks the backend down.
func (a *AgentStatus) down() bool {
	return a.Health == probe.AgentDown || a.Health == probe.AgentFail || a.Health == probe.AgentStopped
}

// agentState is one backend's agent record. It belongs to the targetState,
// so a reload that keeps the backend's ID keeps what its agent said. The
// published view is replaced, never modified, so snapshots share it.
type agentState struct {
	mu   sync.Mutex
	view atomic.Pointer[AgentStatus] // nil: no agent configured
	// ok and failures are counted apart, not as queries and failures:
	// a scrape loads them one at a time, and a query counted in between
	// must not make ok read less (or wrap below 0).
	ok       atomic.Uint64
	failures atomic.Uint64
}

// configure follows the target's agent block on a new or surviving state:
// none drops the record (nobody could undo a drain any more), a new one
// starts at ready, up, 100%.
func (a *agentState) configure(t *probe.Target, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if t.Agent == nil {
		a.view.Store(nil)
		return
	}
	addr := t.Agent.Address(t)
	if cur := a.view.Load(); cur != nil {
		if cur.Address != addr {
			next := *cur
			next.Address = addr
			a.view.Store(&next)
		}
		return
	}
	a.view.Store(&AgentStatus{Address: addr, Admin: probe.AgentReady, Health: probe.AgentUp,
		WeightPercent: 100, MaxConn: -1, Since: now})
}

// note records one query and reports whether a snapshot should be
// published now: what the backend's eligibility, weight or shown reply
// depends on changed, or a failing streak started or ended.
func (a *agentState) note(r probe.AgentReply, err error, now time.Time) (prev, next AgentStatus, changed bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	cur := a.view.Load()
	if cur == nil {
		return AgentStatus{}, AgentStatus{}, false // the agent block went away meanwhile
	}
	n := *cur
	n.LastCheck = now
	if err != nil {
		a.failures.Add(1)
		n.LastError = probe.SanitizeAgentText(err.Error(), MaxWhyLen)
		n.ConsecutiveFailures++
		a.view.Store(&n)
		// Published when a streak starts, so the status shows the agent
		// failing; later failures (which change nothing) ride on the next
		// snapshot a round or an admin change publishes.
		return *cur, n, cur.ConsecutiveFailures == 0
	}
	a.ok.Add(1)
	n.LastSuccess, n.LastError, n.ConsecutiveFailures = now, "", 0
	n.LastReply, n.LastUnknown = r.Line, r.Unknown
	if r.Health != "" {
		n.Health = r.Health
	}
	if r.Admin != "" {
		n.Admin = r.Admin
	}
	if r.Health != "" || r.Admin != "" {
		n.Description = r.Description
	}
	if r.WeightPercent >= 0 {
		n.WeightPercent = r.WeightPercent
	}
	if r.MaxConn >= 0 {
		n.MaxConn = r.MaxConn
	}
	effect := n.Admin != cur.Admin || n.Health != cur.Health || n.WeightPercent != cur.WeightPercent
	if effect {
		n.Since = now
	}
	a.view.Store(&n)
	changed = effect || n.MaxConn != cur.MaxConn || n.Description != cur.Description ||
		n.LastReply != cur.LastReply || cur.LastSuccess.IsZero() || cur.ConsecutiveFailures > 0
	return *cur, n, changed
}

// agentWeight is weight scaled by the agent's percentage: rounded down,
// but never to 0 from a share above 0% (weight 1, the default, at 50%
// stays 1: only "0%" takes a backend out), at most MaxWeight.
func agentWeight(weight, percent int) int {
	if percent == 100 || weight <= 0 {
		return weight
	}
	w := weight * percent / 100
	if w == 0 && percent > 0 {
		w = 1
	}
	return min(w, MaxWeight)
}

// applyAgent copies the agent's view into a snapshot entry and scales its
// effective weight.
func applyAgent(b *Backend, s *targetState) {
	if s == nil {
		b.Agent = nil
		return
	}
	b.Agent = s.agent.view.Load()
	if b.Agent != nil {
		b.Weight = agentWeight(b.Weight, b.Agent.WeightPercent)
	}
}

// agentAdminReason is the reason of an agent's drain or maint; "" for ready.
func agentAdminReason(b *Backend) Reason {
	if b.Agent == nil {
		return ""
	}
	switch b.Agent.Admin {
	case probe.AgentMaint:
		return ReasonAgentMaint
	case probe.AgentDrain:
		return ReasonAgentDrain
	}
	return ""
}

// agentDown: the agent marks b down. Forced health up sets it aside, as
// every other check verdict.
func agentDown(b *Backend) bool { return b.Agent != nil && b.Agent.down() }

// AgentQuery runs one agent query (probe.QueryAgent unless a test replaces it).
type AgentQuery func(ctx context.Context, t *probe.Target) (probe.AgentReply, error)

func defaultAgentQuery(ctx context.Context, t *probe.Target) (probe.AgentReply, error) {
	return probe.QueryAgent(ctx, t, nil)
}

// runAgents starts one goroutine per backend of gen with an agent; they
// stop with ctx (a reload or shutdown), like the group loops.
func (e *Engine) runAgents(ctx context.Context, gen *generation, wg *sync.WaitGroup) {
	for _, l := range gen.loops {
		for _, s := range l.states {
			if t := s.target; t.Agent != nil {
				wg.Go(func() {
					if !sleepCtx(ctx, e.agentOffset(l.group.Jitter)) {
						return
					}
					e.agentLoop(ctx, gen, s, t)
				})
			}
		}
	}
}

// agentOffset is the start offset of one agent loop within the group's
// jitter (not groupLoop.offset, which reads the loop's own state).
func (e *Engine) agentOffset(limit time.Duration) time.Duration {
	switch {
	case limit <= 0:
		return 0
	case e.jitter != nil:
		return e.jitter(limit)
	}
	return rand.N(limit)
}

// sleepCtx waits d (the group's jitter, so a thousand agents are not all
// asked in the same millisecond after a start or reload); false if ctx
// ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// agentLoop queries the agent at once and then every interval. Queries of
// one agent never overlap: a slow one delays the next. Paused checks pause
// the agent too: the operator froze the backend's state.
func (e *Engine) agentLoop(ctx context.Context, gen *generation, s *targetState, t *probe.Target) {
	interval := t.Agent.Interval
	if interval <= 0 {
		interval = 2 * time.Second // a Target built by hand; config sets one
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		if !s.paused.Load() {
			e.queryAgent(ctx, gen, s, t)
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// queryAgent runs one query, records it and publishes a snapshot at once
// when it changed the backend, so the next selection already follows the
// agent. A query cut short by a reload or shutdown counts for nothing.
func (e *Engine) queryAgent(ctx context.Context, gen *generation, s *targetState, t *probe.Target) {
	reply, err := e.agentQuery(ctx, t)
	if ctx.Err() != nil {
		return
	}
	prev, next, changed := s.agent.note(reply, err, e.now())
	e.logAgent(s, prev, next, err)
	if !changed {
		return
	}
	e.mu.Lock()
	if e.gen.Load() != gen {
		e.mu.Unlock()
		return
	}
	snap := e.publishLocked(time.Time{})
	e.mu.Unlock()
	if e.published != nil {
		e.published(snap)
	}
}

// logAgent writes one INFO line when the agent changes the backend, one
// WARN when it stops answering and one INFO when it answers again; not a
// line per query. The send text is never logged.
func (e *Engine) logAgent(s *targetState, prev, next AgentStatus, err error) {
	if next.Address == "" {
		return
	}
	attrs := []slog.Attr{slog.String("backend", s.id), slog.String("group", s.group), slog.String("agent", next.Address)}
	switch {
	case err != nil && prev.ConsecutiveFailures == 0:
		e.logger.LogAttrs(context.Background(), slog.LevelWarn, "backend agent not answering; the backend keeps what it said last",
			append(attrs, slog.String("error", next.LastError))...)
		return
	case err != nil:
		return
	case prev.ConsecutiveFailures > 0:
		e.logger.LogAttrs(context.Background(), slog.LevelInfo, "backend agent answers again", attrs...)
	}
	if prev.Admin != next.Admin || prev.Health != next.Health || prev.WeightPercent != next.WeightPercent {
		e.logger.LogAttrs(context.Background(), slog.LevelInfo, "backend agent state changed",
			append(attrs, slog.String("admin", string(next.Admin)), slog.String("health", string(next.Health)),
				slog.Int("weight_percent", next.WeightPercent), slog.String("description", next.Description))...)
	}
}
