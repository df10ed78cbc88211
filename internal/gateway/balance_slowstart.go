package gateway

import (
	"sync"
	"sync/atomic"
	"time"
)

// Slow start shares, in thousandths of an origin's weight: a ramp starts
// at a tenth (Envoy's min_weight_percent default; HAProxy starts at weight
// 1, nginx at zero, which would leave a ramping origin idle on a backend
// with little traffic) and grows linearly to the full weight.
const (
	fullShare = 1000
	minShare  = 100
)

// originRamp is one origin's slow start: whether it was eligible when last
// seen and, if it became so again within slow_start, since when.
type originRamp struct {
	// state: rampSteady (full share), rampDown (not eligible when last
	// seen, or added by a reload and not yet seen) or the ramp's start in
	// Unix nanoseconds.
	state atomic.Int64
}

const (
	rampSteady int64 = 0
	rampDown   int64 = -1
)

// observe records whether the origin is eligible at now and returns its
// share: a way back from not eligible (active or passive health, admin
// state, a reload that added it) starts a ramp of length d. The ramp
// starts at the first pick that sees the origin eligible again: with no
// request in between, nothing was sent to it either.
func (r *originRamp) observe(eligible bool, now time.Time, d time.Duration) int {
	st := r.state.Load()
	if !eligible {
		if st != rampDown {
			r.state.Store(rampDown)
		}
		return fullShare
	}
	switch st {
	case rampSteady:
		return fullShare
	case rampDown:
		start := now.UnixNano()
		if start <= 0 {
			start = 1 // 0 and -1 are states
		}
		if !r.state.CompareAndSwap(rampDown, start) {
			st = r.state.Load()
			if st <= 0 {
				return fullShare
			}
		} else {
			st = start
		}
	}
	elapsed := time.Duration(now.UnixNano() - st)
	if elapsed < 0 {
		// The wall clock stepped back: the ramp starts over from now,
		// else it would stay at the minimum until the clock passed the
		// old start again. (A request that read now just before another
		// started the ramp moves the start back by that much only.)
		if start := now.UnixNano(); start > 0 {
			r.state.CompareAndSwap(st, start)
		}
		return minShare
	}
	share := rampShare(elapsed, d)
	if share == fullShare {
		r.state.CompareAndSwap(st, rampSteady)
	}
	return share
}

// rampShare is the share after elapsed of a ramp of length d.
func rampShare(elapsed, d time.Duration) int {
	if elapsed >= d || d <= 0 {
		return fullShare
	}
	if elapsed < 0 {
		return minShare // a clock step back: start over at the low end
	}
	return max(minShare, int(int64(fullShare)*int64(elapsed)/int64(d)))
}

// rampMemory keeps each origin's ramp across reloads, by health registry
// ID, so a reload neither restarts nor ends a ramp, and knows the origins
// a reload adds: they start down and ramp once seen eligible. The origins
// of the first configuration start steady: slow start never applies at
// startup (HAProxy's rule), when no origin has traffic to protect from.
type rampMemory struct {
	mu         sync.Mutex
	byID       map[string]*originRamp
	configured bool // a first gateway was built
}

func newRampMemory() *rampMemory { return &rampMemory{byID: map[string]*originRamp{}} }

// forOrigin is the ramp of the origin with registry ID id. A nil memory
// gives a steady ramp of its own.
func (m *rampMemory) forOrigin(id string) *originRamp {
	if m == nil {
		return &originRamp{}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.byID[id]; ok {
		return r
	}
	r := &originRamp{}
	if m.configured {
		r.state.Store(rampDown)
	}
	m.byID[id] = r
	return r
}

// built marks the end of a gateway's construction: origins seen later
// come from a reload.
func (m *rampMemory) built() {
	m.mu.Lock()
	m.configured = true
	m.mu.Unlock()
}

// forget forgets the ramps of old's origins that no runtime in active
// has (a reload removed them; added back later, they ramp again). Only
// old's: a reload built since but not active yet has added origins of its
// own, whose ramps must stay.
func (m *rampMemory) forget(old, active []*backendRuntime) {
	keep := map[string]bool{}
	for _, rt := range active {
		if rt.origins == nil {
			continue
		}
		for _, o := range rt.origins.origins {
			keep[o.id] = true
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, rt := range old {
		if rt.origins == nil {
			continue
		}
		for _, o := range rt.origins.origins {
			if !keep[o.id] {
				delete(m.byID, o.id)
			}
		}
	}
}
