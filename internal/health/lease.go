package health

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backline/backline/internal/probe"
	"github.com/backline/backline/internal/state"
)

// Probe leases (issue 11 item 2): with several instances on one store,
// the deep probe of a backend runs on one instance at a time, the holder
// of that backend's lease, which publishes each raw result under its
// fencing token. Every instance, the holder included, feeds the published
// results into its own gates, in order and once each, so all instances
// apply the same thresholds to the same inputs. The connect tier stays
// local: each instance's own network path to a backend is the truth for
// that instance, and it is cheap. With the store unreachable, every
// instance probes everything itself and rejoins once the store answers.

// LeaseTTLIntervals is a lease's TTL in the intervals its backend is
// probed at: the deep interval, or down_interval (plus jitter) for a
// backend on the down schedule (leaseInterval). The holder renews at every
// probe, so two may be late or lost before it loses the lease; a killed
// holder is replaced once its lease runs out.
const LeaseTTLIntervals = 3

// leaseOpTimeout caps one round's store calls, so a hanging store delays
// a round by at most this much before the instance falls back to local
// probing.
const leaseOpTimeout = 2 * time.Second

// LeaseConfig turns probe leases on; see UseLeases.
type LeaseConfig struct {
	Store state.LeaseStore
	// Owner names this instance in leases; unique per running instance.
	Owner string
	// Registerer gets backline_probe_leases_shared; nil: no metric.
	Registerer prometheus.Registerer
}

// leases is an engine's side of the probe leases. Loops of several groups
// use it at once: mu guards the maps; store calls run without it.
type leases struct {
	store  state.LeaseStore
	owner  string
	logger *slog.Logger
	gauge  prometheus.Gauge

	mu     sync.Mutex
	held   map[string]uint64 // backend ID -> token of a lease this instance holds
	seen   map[string]uint64 // backend ID -> last published seq fed to the gates
	shared bool              // the last round reached the store
	known  bool              // some round has tried
}

// UseLeases makes the engine share deep probes through c.Store. Call it
// before Run; an error leaves the engine probing locally.
func (e *Engine) UseLeases(c LeaseConfig) error {
	if c.Store == nil || c.Owner == "" {
		return errors.New("health: probe leases need a store and an owner")
	}
	if e.running.Load() {
		return errors.New("health: UseLeases after Run")
	}
	lc := &leases{store: c.Store, owner: c.Owner, logger: e.logger,
		held: map[string]uint64{}, seen: map[string]uint64{}}
	if c.Registerer != nil {
		lc.gauge = prometheus.NewGauge(prometheus.GaugeOpts{Name: "backline_probe_leases_shared",
			Help: "1 while deep probes are shared through probe leases on storage.redis, 0 while this instance probes every backend itself."})
		if err := c.Registerer.Register(lc.gauge); err != nil {
			return err
		}
	}
	e.leases = lc
	return nil
}

// setShared notes whether the store answered, logging and setting the
// metric on each change only.
func (lc *leases) setShared(shared bool, err error) {
	lc.mu.Lock()
	changed := !lc.known || lc.shared != shared
	lc.known, lc.shared = true, shared
	if !shared {
		clear(lc.held) // unknown now; the store tells again when it answers
	}
	lc.mu.Unlock()
	if !changed {
		return
	}
	if lc.gauge != nil {
		lc.gauge.Set(boolGauge(shared))
	}
	if shared {
		lc.logger.Info("probe leases: shared deep probing through the store", "owner", lc.owner)
	} else {
		lc.logger.Warn("probe leases: store unreachable, probing every backend locally until it answers", "error", err)
	}
}

// leaseRound is one round's view of the leases of its deep targets.
type leaseRound struct {
	lc *leases
	// ttl is how long published results are kept and how far back they
	// are fetched: the longest lease TTL any backend of the group may get
	// (resultsTTL). A lease itself gets its backend's own TTL
	// (leaseInterval).
	ttl    time.Duration
	ids    []string // every deep target of the round, owned or not
	states []*targetState
	tokens map[string]uint64 // leases held for this round
	own    []heldResult      // this instance's leased deep results, to publish
}

// planLeases acquires (or renews) the lease of every deep target of jobs
// and returns the jobs this instance runs: deep probes only where it holds
// the lease (marked leased), a plain connect probe instead of a combined
// deep one where it does not. The down backends a scheduled round leaves
// out (all minus jobs) get their published results fetched all the same
// (downFetchOnly). nil leaseRound: probe everything locally (the store did
// not answer, or the round has no deep target).
func (l *groupLoop) planLeases(ctx context.Context, jobs, all []job) ([]job, *leaseRound) {
	lc := l.e.leases
	if lc == nil {
		return jobs, nil
	}
	lr := &leaseRound{lc: lc, ttl: l.resultsTTL()}
	byTTL := map[time.Duration][]string{}
	for _, j := range jobs {
		if j.phase == probe.PhaseDeep {
			ttl := LeaseTTLIntervals * l.leaseInterval(j.state)
			lr.ids = append(lr.ids, j.state.id)
			lr.states = append(lr.states, j.state)
			byTTL[ttl] = append(byTTL[ttl], j.state.id)
		}
	}
	fetchOnly := l.downFetchOnly(all)
	if len(lr.ids) == 0 && len(fetchOnly) == 0 {
		return jobs, nil
	}
	cctx, cancel := context.WithTimeout(ctx, leaseOpTimeout)
	defer cancel()
	// One call per TTL: a scheduled round has one, a requested round
	// mixing down and other backends two.
	lr.tokens = map[string]uint64{}
	for ttl, ids := range byTTL {
		held, err := lc.store.AcquireAll(cctx, ids, lc.owner, ttl)
		if err != nil {
			if ctx.Err() == nil {
				lc.setShared(false, err)
			}
			// What an earlier call acquired is held all the same: noted,
			// so a stop releases it.
			lc.mu.Lock()
			maps.Copy(lc.held, lr.tokens)
			lc.mu.Unlock()
			return jobs, nil
		}
		maps.Copy(lr.tokens, held)
	}
	if len(byTTL) > 0 {
		lc.setShared(true, nil)
	}
	lc.mu.Lock()
	for _, id := range lr.ids {
		if tok, ok := lr.tokens[id]; ok {
			lc.held[id] = tok
		} else {
			delete(lc.held, id)
		}
	}
	lc.mu.Unlock()
	for _, s := range fetchOnly {
		lr.ids = append(lr.ids, s.id)
		lr.states = append(lr.states, s)
	}
	out := make([]job, 0, len(jobs))
	for _, j := range jobs {
		switch _, owned := lr.tokens[j.state.id]; {
		case j.phase != probe.PhaseDeep:
			out = append(out, j)
		case owned:
			j.leased = true
			out = append(out, j)
		case j.combined:
			out = append(out, job{state: j.state, phase: probe.PhaseConnect})
		}
	}
	return out, lr
}

// hold keeps this instance's own leased deep result for finishLeases.
func (lr *leaseRound) hold(j job, res *probe.Result) {
	lr.own = append(lr.own, heldResult{j, *res})
}

// heldResult is a leased deep probe's result waiting to be published.
type heldResult struct {
	job job
	res probe.Result
}

// finishLeases publishes the round's own deep results in one round trip,
// records their connect parts here (combined rounds), then feeds every
// published result, this instance's included. A result the store did not
// take because it failed is recorded locally, as without leases; one it
// refused because the lease moved on is dropped: the new holder's
// results stand for it.
func (l *groupLoop) finishLeases(ctx context.Context, lr *leaseRound, now time.Time) {
	if len(lr.own) > 0 {
		items := make([]state.PublishItem, 0, len(lr.own))
		ok := make([]bool, len(lr.own))
		idx := make([]int, 0, len(lr.own))
		for i, h := range lr.own {
			data, err := encodeShared(&h.res)
			if err != nil {
				continue // recorded locally below
			}
			items = append(items, state.PublishItem{ID: h.job.state.id, Token: lr.tokens[h.job.state.id], Data: data})
			idx = append(idx, i)
		}
		cctx, cancel := context.WithTimeout(ctx, leaseOpTimeout)
		seqs, err := lr.lc.store.PublishAll(cctx, items, lr.ttl)
		cancel()
		for k, i := range idx {
			// Without an error every item was answered (seq 0: refused);
			// with one, only items with a seq were stored.
			ok[i] = err == nil || (k < len(seqs) && seqs[k] > 0)
		}
		if err != nil && ctx.Err() == nil {
			lr.lc.setShared(false, err)
		}
		for i, h := range lr.own {
			if !ok[i] {
				l.recordLocal(ctx, h.job, &h.res, now)
			} else if h.job.combined {
				l.recordConnectPart(ctx, h.job.state, &h.res, now)
			}
		}
		lr.own = nil
	}
	l.feed(ctx, lr, now)
}

// feed fetches the published results of the round's deep targets and
// applies the ones not applied yet, oldest first, once each. Results older
// than the lease TTL are not fetched: a backend nobody probes gets no new
// deep input and keeps its last deep verdict (its connect tier, probed
// here, still counts for staleness).
func (l *groupLoop) feed(ctx context.Context, lr *leaseRound, now time.Time) {
	lc := lr.lc
	cctx, cancel := context.WithTimeout(ctx, leaseOpTimeout)
	defer cancel()
	got, err := lc.store.Fetch(cctx, lr.ids, lr.ttl)
	if err != nil {
		if ctx.Err() == nil {
			lc.setShared(false, err)
		}
		return
	}
	for i, id := range lr.ids {
		list := got[id]
		if len(list) == 0 {
			continue
		}
		lc.mu.Lock()
		last := lc.seen[id]
		if list[len(list)-1].Seq < last {
			last = 0 // the store lost its data (a Redis restart): start over
		}
		lc.seen[id] = max(last, list[len(list)-1].Seq)
		lc.mu.Unlock()
		s := lr.states[i]
		for _, p := range list {
			if p.Seq <= last {
				continue
			}
			res, err := decodeShared(p.Data)
			if err != nil {
				lc.logger.Warn("probe leases: unreadable published result skipped", "backend", s.name, "error", err)
				continue
			}
			out := s.recordSharedDeep(&res, now)
			s.noteHistory(probe.PhaseDeep, out.ok, &res, now)
			if m := l.e.metrics; m != nil {
				m.observe(s, &res, &out, l.steps)
			}
			logOutcome(ctx, l.e.logger, s, &out, &res)
		}
	}
}

// recordConnectPart records the connect part of this instance's own
// combined deep probe (its deep part goes through the store).
func (l *groupLoop) recordConnectPart(ctx context.Context, s *targetState, res *probe.Result, now time.Time) {
	out, part, ok := s.recordConnectPart(res, now)
	if !ok {
		return
	}
	s.noteHistory(probe.PhaseConnect, out.ok, &part, now)
	if m := l.e.metrics; m != nil {
		m.observe(s, &part, &out, l.steps)
	}
	logOutcome(ctx, l.e.logger, s, &out, &part)
}

// leaseInterval is how far apart the lease holder probes s, so how long
// its lease must last: the deep interval, or for a backend on the down
// schedule its down_interval and the most jitter can add, when longer.
func (l *groupLoop) leaseInterval(s *targetState) time.Duration {
	d := l.group.DeepInterval
	if s.downScheduled {
		d = max(d, l.group.DownInterval+l.group.Jitter)
	}
	return d
}

// downFetchOnly lists the deep_check backends a scheduled round leaves
// out because they are on the down schedule (paused ones stay frozen).
// Their holder, maybe another instance, publishes each down probe's
// result; fetching those every round costs one read per backend and lets
// this instance follow a recovery the holder found within a deep
// interval, instead of at its own next down probe (up to a down_interval
// later). A requested round fetches for its own backends only.
func (l *groupLoop) downFetchOnly(all []job) []*targetState {
	if l.kicked != nil {
		return nil
	}
	var out []*targetState
	for _, j := range all {
		if j.phase == probe.PhaseDeep && j.state.downScheduled && !j.state.paused.Load() {
			out = append(out, j.state)
		}
	}
	return out
}

// resultsTTL is how long published deep results are kept and how far
// back they are fetched. With down_interval the holder of a down backend
// publishes only that far apart, and an instance that does not know the
// backend is down (it just started, or it applies the results only in
// rounds that still include the backend) must find the last result all
// the same: else its own connect probe passes, its deep gate keeps its
// initial healthy verdict, and it routes to a backend whose login fails
// until the holder's next down probe. So the longest interval any backend
// of the group may be probed at, not this instance's view of one backend.
func (l *groupLoop) resultsTTL() time.Duration {
	d := l.group.DeepInterval
	if l.group.DownInterval > 0 {
		d = max(d, l.group.DownInterval+l.group.Jitter)
	}
	return LeaseTTLIntervals * d
}

// extendDownLeases lengthens the leases this instance holds of the
// backends that went onto the down schedule in the round just finished
// (planFast notes them): acquired for the deep interval, they would run
// out before the holder's next probe and pass to whichever instance
// probes first, for no reason. Any round may do it, a connect round
// without deep probes (so without a lease plan) too: the token is the one
// the last deep round left in leases.held. Renewed under that token, so a
// lease that moved on meanwhile stays where it is. A failure is left to
// the next probe, which acquires again.
func (l *groupLoop) extendDownLeases(ctx context.Context) {
	went := l.wentDown
	l.wentDown = l.wentDown[:0]
	lc := l.e.leases
	if lc == nil || len(went) == 0 {
		return
	}
	var cctx context.Context
	for _, s := range went {
		want := LeaseTTLIntervals * l.leaseInterval(s)
		if !s.target.DeepCheck || want <= LeaseTTLIntervals*l.group.DeepInterval {
			continue
		}
		lc.mu.Lock()
		tok, held := lc.held[s.id]
		lc.mu.Unlock()
		if !held {
			continue
		}
		if cctx == nil {
			var cancel context.CancelFunc
			cctx, cancel = context.WithTimeout(ctx, leaseOpTimeout)
			defer cancel()
		}
		if _, err := lc.store.Renew(cctx, s.id, lc.owner, tok, want); err != nil {
			return // the store is gone; the next round notices
		}
	}
}

// releaseLeases gives up every lease this instance holds, so another
// instance takes over at its next round instead of after the TTL.
func (e *Engine) releaseLeases() {
	lc := e.leases
	if lc == nil {
		return
	}
	lc.mu.Lock()
	held := make(map[string]uint64, len(lc.held))
	for id, tok := range lc.held {
		held[id] = tok
	}
	clear(lc.held)
	lc.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), leaseOpTimeout)
	defer cancel()
	for id, tok := range held {
		if err := lc.store.Release(ctx, id, lc.owner, tok); err != nil {
			return // the store is gone: the leases run out by themselves
		}
	}
}
