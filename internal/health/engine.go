package health

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backline/backline/internal/probe"
	"github.com/backline/backline/internal/state"
)

// DefaultMaxInFlight bounds concurrent probes per group: enough to probe
// thousands of targets per second, small enough that file descriptors and
// goroutine stacks stay bounded (about 32 MB of stacks at most).
const DefaultMaxInFlight = 4096

// Options configure an Engine; the zero value works (no metrics, no logs).
type Options struct {
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Now stamps snapshots and phase states; time.Now if nil. Scheduling
	// always uses the real clock.
	Now func() time.Time
	// MaxInFlight caps concurrent probes of one group (DefaultMaxInFlight if
	// <= 0). Per group, so a slow group never starves another.
	MaxInFlight int
}

// Engine schedules the probes of every group, runs them through the
// gates and publishes an immutable Snapshot after each round. Per-target
// state lives in a registry keyed by backend ID (see registry.go), so
// Reconfigure can swap the groups and keep every surviving backend's state.
type Engine struct {
	logger   *slog.Logger
	now      func() time.Time
	checker  probe.Checker
	metrics  *metrics // nil without a Registerer
	inFlight int

	gen     atomic.Pointer[generation] // current groups, loops and states
	running atomic.Bool
	ready   atomic.Bool // every group of the first generation published once

	// runMu orders Reconfigure against Run starting and stopping; swaps
	// hands a reconfiguration to a running Run, which applies it between
	// its loops' lives. runDone is closed when Run returned.
	runMu    sync.Mutex
	swaps    chan *swapRequest
	runDone  chan struct{}
	reconfMu sync.Mutex // one Reconfigure at a time

	mu       sync.Mutex // serialises publish: parts, round, admin
	parts    [][]Backend
	round    uint64
	partDone []bool // per loop of the current generation: published once
	admin    map[string]*override
	onAdmin  []func()
	snap     atomic.Pointer[Snapshot]
	index    atomic.Pointer[targetIndex]
	// recheckAt is when the eligibility of some entry may change without a
	// round (an admin TTL ends, a backend turns stale); zero: never.
	recheckAt    time.Time
	adminExpired bool // an override expired since the last onAdmin call

	leases *leases // probe leases (lease.go); nil: every probe local
	uptime *uptimeKeeper
	// agentQuery runs one agent check query (agent.go).
	agentQuery AgentQuery
	stalls     stallWatch

	// Test hooks; nil in production.
	probeStarted func(group string, t *probe.Target, phase probe.Phase, offset time.Duration)
	schedNow     func() time.Time                                        // fast re-check clock; time.Now if nil
	schedAfter   func(d time.Duration) (c <-chan time.Time, stop func()) // fast re-check timer; time.NewTimer if nil
	jitter       func(limit time.Duration) time.Duration
	published    func(*Snapshot)
	// changed has a token while a snapshot stored since its reader last
	// looked is unread (Changes).
	changed chan struct{}
}

var (
	_ Source       = (*Engine)(nil)
	_ TargetLookup = (*Engine)(nil)
)

// ProbeTarget implements TargetLookup.
func (e *Engine) ProbeTarget(id string) (*probe.Target, bool) {
	t, ok := e.index.Load().byID[id]
	return t, ok
}

// TestPasswords implements TargetLookup.
func (e *Engine) TestPasswords() []string { return e.index.Load().passwords }

// New validates the groups and prepares the engine; nothing runs before Run.
// The mail group (GroupMail) comes first in snapshots, then the others in
// the order given.
func New(groups []Group, checker probe.Checker, opts Options) (*Engine, error) {
	if checker == nil {
		return nil, errors.New("health: no checker")
	}
	e := &Engine{
		logger:   opts.Logger,
		now:      opts.Now,
		checker:  checker,
		inFlight: opts.MaxInFlight,
		swaps:    make(chan *swapRequest),
		runDone:  make(chan struct{}),
		admin:    map[string]*override{},
		changed:  make(chan struct{}, 1),

		agentQuery: defaultAgentQuery,
	}
	if e.logger == nil {
		e.logger = slog.New(slog.DiscardHandler)
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.inFlight <= 0 {
		e.inFlight = DefaultMaxInFlight
	}
	// In memory unless UseUptimeStore: outlives reloads, not the process.
	e.uptime = newUptimeKeeper(state.NewMemoryUptimeStore(e.now), e.logger)
	p, err := plan(groups)
	if err != nil {
		return nil, err
	}
	e.install(p, nil, e.now())
	if opts.Registerer != nil {
		// Registered last: its collector reads the snapshot and states.
		m, err := newMetrics(opts.Registerer, e)
		if err != nil {
			return nil, err
		}
		e.metrics = m
		for _, l := range e.gen.Load().loops {
			l.setServersStatus()
		}
	}
	return e, nil
}

// orderGroups validates group settings and puts the mail group first.
func orderGroups(groups []Group) ([]Group, error) {
	seen := make(map[string]bool, len(groups))
	var mail, others []Group
	for i, g := range groups {
		switch {
		case g.Name == "":
			return nil, fmt.Errorf("health: group %d has no name", i)
		case seen[g.Name]:
			return nil, fmt.Errorf("health: group %q is listed twice", g.Name)
		case g.ConnectInterval <= 0:
			return nil, fmt.Errorf("health: group %q: connect interval must be positive, got %s", g.Name, g.ConnectInterval)
		case g.DeepInterval < 0:
			return nil, fmt.Errorf("health: group %q: deep interval must be positive, got %s", g.Name, g.DeepInterval)
		case g.Jitter < 0:
			return nil, fmt.Errorf("health: group %q: jitter must not be negative, got %s", g.Name, g.Jitter)
		}
		seen[g.Name] = true
		if g.DeepInterval == 0 {
			g.DeepInterval = g.ConnectInterval
		}
		if g.FastInterval < 0 || g.FastInterval > min(g.ConnectInterval, g.DeepInterval) {
			return nil, fmt.Errorf("health: group %q: fast interval must be 0..%s, got %s", g.Name, min(g.ConnectInterval, g.DeepInterval), g.FastInterval)
		}
		if g.DownInterval != 0 && g.DownInterval < RecheckInterval {
			// Down probes go through probeNow, which starts one per backend
			// per RecheckInterval.
			return nil, fmt.Errorf("health: group %q: down interval must be 0 or at least %s, got %s", g.Name, RecheckInterval, g.DownInterval)
		}
		if g.Name == GroupMail {
			mail = append(mail, g)
		} else {
			others = append(others, g)
		}
	}
	return append(mail, others...), nil
}

// Snapshot returns the current snapshot; never nil. Before the first round
// it lists every target in its initial state with Taken zero.
func (e *Engine) Snapshot() *Snapshot { return e.snap.Load() }

// Changes receives when a snapshot was stored since the last receive: a
// round, an admin change, a passive ejection, a reload, an expiry. Several
// stores between two receives make one, so a slow reader reads the latest
// snapshot once and never holds the engine up. It is for one reader (the
// gateway's panic verdicts follow health with it, not only requests).
func (e *Engine) Changes() <-chan struct{} { return e.changed }

// storeSnap makes snap the current snapshot and tells Changes.
func (e *Engine) storeSnap(snap *Snapshot) {
	e.snap.Store(snap)
	select {
	case e.changed <- struct{}{}:
	default: // a change is already waiting to be read
	}
}

// Ready reports whether every group has finished its first round.
func (e *Engine) Ready() bool { return e.ready.Load() }

// Run probes until ctx is done, then returns once every probe goroutine has
// returned. It runs one loop per group, so a slow group never delays
// another. Between two loop lives it applies what Reconfigure hands it.
// Run may be called once.
func (e *Engine) Run(ctx context.Context) {
	e.runMu.Lock()
	if !e.running.CompareAndSwap(false, true) {
		e.runMu.Unlock()
		e.logger.Error("health engine: Run called more than once; ignored")
		return
	}
	e.runMu.Unlock()
	defer func() {
		e.runMu.Lock()
		close(e.runDone)
		e.runMu.Unlock()
	}()
	stallCtx, stopStalls := context.WithCancel(ctx)
	var stallDone sync.WaitGroup
	stallDone.Go(func() { e.stalls.run(stallCtx) })
	defer stallDone.Wait()
	defer stopStalls()
	// The deferred save runs once the loops below have stopped, so it
	// sees every check.
	var uptimeDone sync.WaitGroup
	uptimeDone.Go(func() { e.runUptime(ctx) })
	defer e.saveUptimeAtStop()
	defer uptimeDone.Wait()
	for {
		gen := e.gen.Load()
		gctx, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		for _, l := range gen.loops {
			wg.Go(func() { l.run(gctx) })
		}
		e.runAgents(gctx, gen, &wg)
		expiry := e.expiryLoop(gctx)
		select {
		case <-ctx.Done():
			stop()
			wg.Wait()
			<-expiry
			e.releaseLeases()
			return
		case req := <-e.swaps:
			stop()
			wg.Wait()
			<-expiry
			e.install(req.plan, gen, e.now())
			close(req.done)
		}
	}
}

// publish replaces one group's part and stores a merged snapshot in which
// admin state and eligibility are applied to every entry. Published
// snapshots are never modified: the merged slice is always fresh.
func (e *Engine) publish(gen *generation, index int, part []Backend, taken time.Time) {
	e.mu.Lock()
	if e.gen.Load() != gen {
		e.mu.Unlock()
		return // a loop of a replaced generation: its part is gone
	}
	e.parts[index] = part
	e.partDone[index] = true
	if !e.ready.Load() && !slices.Contains(e.partDone, false) {
		e.ready.Store(true)
	}
	var snap *Snapshot
	if len(e.parts) == 1 {
		// One group: its fresh part becomes the snapshot as it is, no copy.
		e.applyAdminLocked(part, e.now())
		e.round++
		snap = &Snapshot{Taken: taken, Round: e.round, Backends: part}
		e.storeSnap(snap)
	} else {
		snap = e.publishLocked(taken)
	}
	expired := e.adminExpired
	e.adminExpired = false
	e.mu.Unlock()
	if e.published != nil {
		e.published(snap)
	}
	if expired {
		e.adminChanged()
	}
}

// publishLocked builds and stores a snapshot from a copy of the current
// parts (published slices are never written again); e.mu must be held.
// taken zero keeps the current snapshot's time.
func (e *Engine) publishLocked(taken time.Time) *Snapshot {
	if taken.IsZero() {
		taken = e.snap.Load().Taken
	}
	e.round++
	backends := slices.Concat(e.parts...)
	e.applyAdminLocked(backends, e.now())
	snap := &Snapshot{Taken: taken, Round: e.round, Backends: backends}
	e.storeSnap(snap)
	return snap
}
