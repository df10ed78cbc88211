package gateway

import (
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
)

func TestLimitWindows(t *testing.T) {
	t0 := time.Unix(1000, 0)
	fixed := &limitWindow{period: time.Second, perPeriod: 2}
	sliding := &limitWindow{period: time.Second, perPeriod: 2, sliding: true}
	steps := []struct {
		at                 time.Duration
		fixedOK, slidingOK bool
	}{
		{0, true, true},
		{600 * time.Millisecond, true, true},
		{900 * time.Millisecond, false, false}, // both full
		{1000 * time.Millisecond, true, true},  // fixed: new window; sliding: first one expired
		{1500 * time.Millisecond, true, false}, // sliding still holds 0.6 and 1.0
		{1600 * time.Millisecond, false, true},
	}
	for _, s := range steps {
		now := t0.Add(s.at)
		for _, c := range []struct {
			l  *limitWindow
			ok bool
			n  string
		}{{fixed, s.fixedOK, "fixed"}, {sliding, s.slidingOK, "sliding"}} {
			got := !c.l.nextAllowed(now).After(now)
			if got != c.ok {
				t.Fatalf("%s at %s: allowed=%v, want %v", c.n, s.at, got, c.ok)
			}
			if got {
				c.l.record(now)
			}
		}
	}
}

func TestThrottleLongestWaitWins(t *testing.T) {
	th := newThrottle(config.RateLimits{
		{Period: time.Second, PerPeriod: 1, PeriodWindow: "sliding", Mode: "wait"},
		{Period: time.Minute, PerPeriod: 1, PeriodWindow: "fixed", Mode: "wait"},
	}, nil)
	t0 := time.Unix(1000, 0)
	th.recordAll(t0)
	until, blocked := th.check(t0.Add(2 * time.Second))
	if blocked || !until.Equal(t0.Add(time.Minute)) {
		t.Fatalf("until %v blocked %v", until.Sub(t0), blocked)
	}
}
