package gateway

import (
	"log/slog"
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
// from the snapshot, by health.JudgePanic, the rule the status API uses.
type originPanic struct {
	threshold int
	active    atomic.Bool

	logger  *slog.Logger
	gauge   prometheus.Gauge   // backline_gateway_origins_panic
	entered prometheus.Counter // backline_gateway_origins_panic_total
	lastLog atomic.Int64       // unix nanoseconds of the last WARN line
	// enterLogged: the current panic's start was logged, so its end is.
	enterLogged atomic.Bool
}

// panicVerdict is what one pick needs of the judgement.
type panicVerdict struct {
	on      bool
	backups bool // the judged tier is the backups
}

// promotes tells whether an origin that is not eligible joins the
// eligible tier because of panic: it is in the judged tier and only the
// checks took it out.
func (v panicVerdict) promotes(backup bool, b *health.Backend) bool {
	return v.on && v.backups == backup && health.Usable(b)
}

func newOriginPanic(b *config.Backend) originPanic {
	return originPanic{threshold: b.PanicThresholdOf()}
}

// watchPanic gives the backend's panic mode its log and metric series.
func (s *originSet) watchPanic(logger *slog.Logger, m *metrics) {
	if s == nil || s.panic.threshold == 0 {
		return
	}
	s.panic.logger = logger
	s.panic.gauge = m.origins.panic.WithLabelValues(s.label)
	s.panic.entered = m.origins.panicEntered.WithLabelValues(s.label)
	s.panic.gauge.Set(0)
}

// panicFor judges the backend's origins in snap at now. It counts as
// candidates does: an origin the snapshot does not know yet is eligible
// unless its weight is 0, a passive ejection ends at its exact time.
func (s *originSet) panicFor(snap *health.Snapshot, idx *snapshotIndex, now time.Time) panicVerdict {
	if s.panic.threshold == 0 {
		return panicVerdict{}
	}
	var prim, back health.PanicCount
	for i, o := range s.origins {
		c := &prim
		if o.backup {
			c = &back
		}
		if idx == nil || idx.pos[i] < 0 {
			if o.weight > 0 {
				c.Eligible++
				c.Usable++
			}
			continue
		}
		b := &snap.Backends[idx.pos[i]]
		eligible := b.Eligible
		if b.Reason == health.ReasonPassive {
			eligible, _ = health.Eligibility(*b, now)
		}
		if eligible {
			c.Eligible++
		}
		if eligible || health.Usable(b) {
			c.Usable++
		}
	}
	st := health.JudgePanic(s.panic.threshold, prim, back)
	s.panic.note(s.label, st, now)
	return panicVerdict{on: st.Panic, backups: st.Backups}
}

// note records a change of the panic state: gauge, counter and a WARN
// (entering) or INFO (leaving) line, at most one WARN per panicLogEvery.
func (p *originPanic) note(label string, st health.PanicState, now time.Time) {
	if !p.active.CompareAndSwap(!st.Panic, st.Panic) {
		return
	}
	if p.gauge != nil {
		if st.Panic {
			p.gauge.Set(1)
			p.entered.Inc()
		} else {
			p.gauge.Set(0)
		}
	}
	if p.logger == nil {
		return
	}
	tier := "primary"
	if st.Backups {
		tier = "backup"
	}
	if !st.Panic {
		if p.enterLogged.CompareAndSwap(true, false) {
			p.logger.Info("gateway backend left panic mode: balancing over eligible origins again",
				"backend", label, "tier", tier, "eligible", st.Eligible, "usable", st.Usable, "panic_threshold", st.Threshold)
		}
		return
	}
	last := p.lastLog.Load()
	if last != 0 && now.UnixNano()-last < int64(panicLogEvery) || !p.lastLog.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	p.enterLogged.Store(true)
	p.logger.Warn("gateway backend in panic mode: too few eligible origins, balancing over every origin not taken out by an operator",
		"backend", label, "tier", tier, "eligible", st.Eligible, "usable", st.Usable, "panic_threshold", st.Threshold)
}
