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
// gates and publishes an immutable Snapshot after each round.
type Engine struct {
	logger  *slog.Logger
	now     func() time.Time
	checker probe.Checker
	metrics *metrics // nil without a Registerer
	loops   []*groupLoop
	states  []*targetState // all targets, in snapshot order
	running atomic.Bool

	mu    sync.Mutex // serialises publish: parts and round
	parts [][]Backend
	round uint64
	snap  atomic.Pointer[Snapshot]
	index atomic.Pointer[targetIndex]

	// Test hooks; nil in production.
	probeStarted func(group string, t *probe.Target, phase probe.Phase, offset time.Duration)
	jitter       func(limit time.Duration) time.Duration
	published    func(*Snapshot)
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
		logger:  opts.Logger,
		now:     opts.Now,
		checker: checker,
	}
	if e.logger == nil {
		e.logger = slog.New(slog.DiscardHandler)
	}
	if e.now == nil {
		e.now = time.Now
	}
	inFlight := opts.MaxInFlight
	if inFlight <= 0 {
		inFlight = DefaultMaxInFlight
	}

	ordered, err := orderGroups(groups)
	if err != nil {
		return nil, err
	}
	start := e.now()
	for i := range ordered {
		l, err := newGroupLoop(e, i, ordered[i], inFlight, start)
		if err != nil {
			return nil, err
		}
		e.loops = append(e.loops, l)
		e.states = append(e.states, l.states...)
		e.parts = append(e.parts, l.backends())
	}
	e.snap.Store(&Snapshot{Backends: slices.Concat(e.parts...)})
	ids := make([]string, len(e.states))
	targets := make([]*probe.Target, len(e.states))
	seenID := make(map[string]string, len(e.states))
	for i, s := range e.states {
		if g, dup := seenID[s.id]; dup {
			return nil, fmt.Errorf("health: groups %q and %q both have a backend with ID %q", g, s.group, s.id)
		}
		seenID[s.id] = s.group
		ids[i], targets[i] = s.id, s.target
	}
	e.index.Store(newTargetIndex(ids, targets))
	if opts.Registerer != nil {
		// Registered last: its collector reads the snapshot and states.
		m, err := newMetrics(opts.Registerer, e)
		if err != nil {
			return nil, err
		}
		e.metrics = m
	}
	for _, l := range e.loops {
		l.setServersStatus()
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

// Run probes until ctx is done, then returns once every probe goroutine has
// returned. It runs one loop per group, so a slow group never delays
// another. Run may be called once.
func (e *Engine) Run(ctx context.Context) {
	if !e.running.CompareAndSwap(false, true) {
		e.logger.Error("health engine: Run called more than once; ignored")
		return
	}
	var wg sync.WaitGroup
	for _, l := range e.loops {
		wg.Go(func() { l.run(ctx) })
	}
	wg.Wait()
}

// publish replaces one group's part and stores a merged snapshot. Published
// snapshots are never modified: every part is a fresh slice and parts are
// only replaced, so a single group's part can be published as it is.
func (e *Engine) publish(index int, part []Backend, taken time.Time) {
	e.mu.Lock()
	e.parts[index] = part
	e.round++
	backends := part
	if len(e.parts) > 1 {
		backends = slices.Concat(e.parts...)
	}
	snap := &Snapshot{Taken: taken, Round: e.round, Backends: backends}
	e.snap.Store(snap)
	e.mu.Unlock()
	if e.published != nil {
		e.published(snap)
	}
}
