package state

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// RateRule is one throttle rule (a gateway backend's beta_rate_limit):
// at most PerPeriod request starts per Period.
//
// Fixed: a window starts with the first request while no window runs and
// lasts Period; at most PerPeriod starts fall in it.
// Sliding: a request may start once the oldest of the last PerPeriod starts
// is Period ago (exact: the stores keep the last PerPeriod start times).
type RateRule struct {
	Period    time.Duration
	PerPeriod int
	Sliding   bool
}

// RateDecision is the answer of RateCounter.Take.
type RateDecision struct {
	// Allowed: every rule had room, and one start was recorded under each.
	Allowed bool
	// RetryAfter, when not allowed, is how long until every exhausted rule
	// has room again (at most the longest period; never negative).
	RetryAfter time.Duration
	// Exhausted has bit i set when rules[i] had no room.
	Exhausted uint64
}

// MaxRateRules bounds the rules of one Take (Exhausted is a bit set).
const MaxRateRules = 32

// RateCounter counts request starts per key. Take is atomic: it records a
// start under every rule or under none. Safe for concurrent use.
type RateCounter interface {
	// Take records one start under key if every rule allows it at now.
	// The Redis store uses the server's clock instead of now, so instances
	// whose clocks disagree still share one window.
	Take(ctx context.Context, key string, rules []RateRule, now time.Time) (RateDecision, error)
}

func checkRules(rules []RateRule) error {
	if len(rules) == 0 || len(rules) > MaxRateRules {
		return fmt.Errorf("%w: 1..%d rate rules, got %d", ErrInvalid, MaxRateRules, len(rules))
	}
	for i, r := range rules {
		if r.Period <= 0 || r.PerPeriod <= 0 {
			return fmt.Errorf("%w: rate rule %d: period and per_period must be > 0", ErrInvalid, i)
		}
	}
	return nil
}

// MemoryRateCounter is the one-instance RateCounter: today's gateway
// throttle, and the fallback while Redis does not answer.
type MemoryRateCounter struct {
	mu      sync.Mutex
	windows map[rateWindowKey]*rateWindow
}

type rateWindowKey struct {
	key     string
	period  time.Duration
	sliding bool
}

// rateWindow is one rule's bookkeeping under one key.
type rateWindow struct {
	// fixed: start of the running window and starts recorded in it
	start time.Time
	count int
	// sliding: start times younger than the period, oldest first, at most
	// perPeriod (so memory follows the traffic, not per_period)
	times []time.Time
}

// NewMemoryRateCounter returns an empty counter.
func NewMemoryRateCounter() *MemoryRateCounter {
	return &MemoryRateCounter{windows: map[rateWindowKey]*rateWindow{}}
}

// Take implements RateCounter.
func (m *MemoryRateCounter) Take(_ context.Context, key string, rules []RateRule, now time.Time) (RateDecision, error) {
	if err := checkRules(rules); err != nil {
		return RateDecision{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var d RateDecision
	ws := make([]*rateWindow, len(rules))
	for i, r := range rules {
		k := rateWindowKey{key, r.Period, r.Sliding}
		w := m.windows[k]
		if w == nil {
			w = &rateWindow{}
			m.windows[k] = w
		}
		ws[i] = w
		if wait := w.wait(r, now); wait > 0 {
			d.Exhausted |= 1 << i
			d.RetryAfter = max(d.RetryAfter, wait)
		}
	}
	if d.Exhausted != 0 {
		return d, nil
	}
	for i, r := range rules {
		ws[i].record(r, now)
	}
	d.Allowed = true
	return d, nil
}

// wait is how long until r allows a start; 0 when it does now. A clock
// that went back never makes the wait longer than the period.
func (w *rateWindow) wait(r RateRule, now time.Time) time.Duration {
	var until time.Time
	if r.Sliding {
		n := 0
		for n < len(w.times) && !w.times[n].Add(r.Period).After(now) {
			n++ // expired
		}
		w.times = w.times[n:]
		if len(w.times) < r.PerPeriod {
			return 0
		}
		until = w.times[len(w.times)-r.PerPeriod].Add(r.Period) // the oldest of the last PerPeriod
	} else {
		if w.start.IsZero() || !now.Before(w.start.Add(r.Period)) || w.count < r.PerPeriod {
			return 0
		}
		until = w.start.Add(r.Period)
	}
	return min(max(until.Sub(now), 0), r.Period)
}

func (w *rateWindow) record(r RateRule, now time.Time) {
	if r.Sliding {
		w.times = append(w.times, now)
		if extra := len(w.times) - r.PerPeriod; extra > 0 {
			w.times = w.times[extra:] // per_period was lowered (a reload)
		}
		return
	}
	if w.start.IsZero() || !now.Before(w.start.Add(r.Period)) {
		w.start, w.count = now, 0
	}
	w.count++
}
