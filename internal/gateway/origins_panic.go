package gateway

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
)

// panicLogEvery bounds the panic WARN lines of one backend: a backend
// flapping around its threshold logs once per period, not per flip (the
// gauge and the counter see every change).
const panicLogEvery = 30 * time.Second

// originPanic is a backend's panic mode (panic_threshold, Envoy's
// healthy_panic_threshold): when fewer than threshold percent of the
// origins of the tier a pick draws from are eligible, the pick draws
// from every origin of that tier an operator has not taken out instead
// of piling the whole load onto the few healthy ones. Judged per pick
// from the snapshot (originSet.judge), by health.JudgePanic, the rule the
// status API uses.
type originPanic struct {
	threshold int
	state     *panicState // shared with the sets of later configurations

	logger  *slog.Logger
	gauge   prometheus.Gauge   // backline_gateway_origins_panic
	entered prometheus.Counter // backline_gateway_origins_panic_total
}

// panicState is whether a backend is in panic and what its log said. It
// belongs to the backend's label (panicMemory), not to one configuration:
// a reload during a panic neither ends nor enters it again, so the gauge
// holds, panic_total counts the panic once and its WARN is not repeated.
type panicState struct {
	active atomic.Bool
	// heldWarn: when a WARN held back by panicLogEvery may be written, in
	// Unix nanoseconds (0: none held). Read on the hot path.
	heldWarn atomic.Int64

	// mu orders the flips' effects: the gauge and the log lines follow
	// active in the order it changed, not in the order goroutines that
	// changed it got to write them.
	mu       sync.Mutex
	lastWarn int64 // Unix nanoseconds of the last WARN line
	warned   bool  // the current panic's WARN was written, so its end is
}

// panicVerdict is what one pick needs of the judgement.
type panicVerdict struct {
	on      bool
	backups bool // the judged tier is the backups
}

// promotes tells whether an origin that is not eligible joins the
// eligible tier because of panic: it is in the judged tier and only the
// checks took it out.
func (v panicVerdict) promotes(backup, usable bool) bool {
	return v.on && v.backups == backup && usable
}

func newOriginPanic(b *config.Backend) originPanic {
	return originPanic{threshold: b.PanicThresholdOf(), state: &panicState{}}
}

// watchPanic gives the backend's panic mode its state kept across
// reloads, its log and its metric series.
func (s *originSet) watchPanic(logger *slog.Logger, m *metrics) {
	if s == nil || s.panic.threshold == 0 {
		return
	}
	p := &s.panic
	p.state = m.panics.forBackend(s.label)
	p.logger = logger
	p.gauge = m.origins.panic.WithLabelValues(s.label)
	p.entered = m.origins.panicEntered.WithLabelValues(s.label)
	// The state a reload keeps (a new backend: 0). Under the lock, so it
	// does not overwrite a flip the running configuration just made.
	p.state.mu.Lock()
	p.gauge.Set(boolGauge(p.state.active.Load()))
	p.state.mu.Unlock()
}

func boolGauge(on bool) float64 {
	if on {
		return 1
	}
	return 0
}

// note records the judgement of one pick. Only a change of the panic
// state writes (gauge, counter, a WARN entering or an INFO leaving, at
// most one WARN per panicLogEvery); a pick that finds the state as it was
// only reads it, so requests do not contend for its cache line. A WARN
// held back is written by the first pick after the period if the panic
// still holds: the log never ends on "left panic mode" during a panic.
func (p *originPanic) note(label string, st health.PanicState, now time.Time) {
	ps := p.state
	if ps.active.Load() == st.Panic {
		if st.Panic {
			if at := ps.heldWarn.Load(); at != 0 && now.UnixNano() >= at {
				ps.mu.Lock()
				if ps.active.Load() && ps.heldWarn.Load() != 0 {
					p.warnLocked(label, st, now)
				}
				ps.mu.Unlock()
			}
		}
		return
	}
	if !ps.active.CompareAndSwap(!st.Panic, st.Panic) {
		return
	}
	if st.Panic && p.entered != nil {
		p.entered.Inc()
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	on := ps.active.Load()
	if p.gauge != nil {
		p.gauge.Set(boolGauge(on))
	}
	if on != st.Panic {
		return // flipped back meanwhile: that flip logs, if anything
	}
	if on {
		p.warnLocked(label, st, now)
		return
	}
	ps.heldWarn.Store(0) // a panic that ended within the period stays silent
	if !ps.warned {
		return
	}
	ps.warned = false
	if p.logger != nil {
		p.logger.Info("gateway backend left panic mode: balancing over eligible origins again",
			"backend", label, "tier", tierName(st), "eligible", st.Eligible, "usable", st.Usable, "panic_threshold", st.Threshold)
	}
}

// warnLocked writes the WARN of a panic, or holds it back until
// panicLogEvery after the last one. Called with state.mu held.
func (p *originPanic) warnLocked(label string, st health.PanicState, now time.Time) {
	ps := p.state
	t := now.UnixNano()
	if ps.lastWarn != 0 && t-ps.lastWarn < int64(panicLogEvery) {
		ps.heldWarn.Store(ps.lastWarn + int64(panicLogEvery))
		return
	}
	ps.heldWarn.Store(0)
	ps.lastWarn, ps.warned = t, true
	if p.logger != nil {
		p.logger.Warn("gateway backend in panic mode: too few eligible origins, balancing over every origin not taken out by an operator",
			"backend", label, "tier", tierName(st), "eligible", st.Eligible, "usable", st.Usable, "panic_threshold", st.Threshold)
	}
}

// HealthFeed is a health source that tells when its snapshot changed
// (health.Engine).
type HealthFeed interface {
	health.Source
	Changes() <-chan struct{}
}

// FollowHealth judges the panic mode of the active gateway's backends
// each time feed's snapshot changes, until ctx ends: without it only a
// request judged, so backline_gateway_origins_panic, panic_total and the
// panic log lines of an idle backend stayed as its last request left
// them while the checks took its origins out or brought them back. A
// request still judges for itself; both go through one state per label,
// so a change is counted and logged once whoever sees it first.
func (m *Metrics) FollowHealth(ctx context.Context, feed HealthFeed) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-feed.Changes():
			m.m.judgePanics(feed.Snapshot(), time.Now())
		}
	}
}

// judgePanics judges every backend of the active gateway that has a
// panic_threshold against snap.
func (m *metrics) judgePanics(snap *health.Snapshot, now time.Time) {
	p := m.conns.backends.Load()
	if p == nil {
		return
	}
	for _, rt := range *p {
		if s := rt.origins; s != nil && s.panic.threshold > 0 {
			s.judge(snap, now)
		}
	}
}

func tierName(st health.PanicState) string {
	if st.Backups {
		return "backup"
	}
	return "primary"
}

// panicMemory keeps each backend's panic state across reloads, by label.
type panicMemory struct {
	mu      sync.Mutex
	byLabel map[string]*panicState
}

func newPanicMemory() *panicMemory { return &panicMemory{byLabel: map[string]*panicState{}} }

func (m *panicMemory) forBackend(label string) *panicState {
	m.mu.Lock()
	defer m.mu.Unlock()
	ps := m.byLabel[label]
	if ps == nil {
		ps = &panicState{}
		m.byLabel[label] = ps
	}
	return ps
}

// keepOnly forgets the panic state of every backend that has no
// panic_threshold in rts (the active configuration) and deletes its
// series: a backend whose panic_threshold a reload removed does not keep
// a gauge stuck at its last value.
func (m *panicMemory) keepOnly(rts []*backendRuntime, o *originMetrics) {
	keep := map[string]bool{}
	for _, rt := range rts {
		if rt.origins != nil && rt.origins.panic.threshold > 0 {
			keep[rt.name] = true
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for label := range m.byLabel {
		if !keep[label] {
			delete(m.byLabel, label)
		}
	}
	for _, rt := range rts {
		if !keep[rt.name] {
			o.panic.DeleteLabelValues(rt.name)
			o.panicEntered.DeleteLabelValues(rt.name)
		}
	}
}
