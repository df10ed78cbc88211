package state

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rateHarness is one RateCounter implementation under test: open returns
// another handle on the same shared counts (another instance); advance
// moves the clock of every handle and of the store; exact says retry
// times can be compared exactly (a clock the test moves).
type rateHarness struct {
	open    func() RateCounter
	advance func(time.Duration)
	now     func() time.Time
	exact   bool
	unit    time.Duration // period used by timed subtests
}

// runRateCounterSuite is the behavioural suite every RateCounter passes.
func runRateCounterSuite(t *testing.T, newHarness func(t *testing.T) rateHarness) {
	ctx := context.Background()
	take := func(t *testing.T, h rateHarness, c RateCounter, key string, rules ...RateRule) RateDecision {
		t.Helper()
		d, err := c.Take(ctx, key, rules, h.now())
		if err != nil {
			t.Fatalf("Take(%.20q): %v", key, err)
		}
		return d
	}

	t.Run("fixed window", func(t *testing.T) {
		h := newHarness(t)
		c, u := h.open(), h.unit
		r := RateRule{Period: u, PerPeriod: 2}
		for i := range 2 {
			if d := take(t, h, c, "api", r); !d.Allowed || d.Exhausted != 0 || d.RetryAfter != 0 {
				t.Fatalf("start %d: %+v", i, d)
			}
		}
		h.advance(u * 6 / 10)
		d := take(t, h, c, "api", r)
		if d.Allowed || d.Exhausted != 1 || d.RetryAfter <= 0 || d.RetryAfter > u*4/10 {
			t.Fatalf("third start: %+v", d)
		}
		if h.exact && d.RetryAfter != u*4/10 {
			t.Fatalf("retry after %v, want %v", d.RetryAfter, u*4/10)
		}
		h.advance(u * 4 / 10) // the window ends: a new one starts with this request
		for i := range 2 {
			if d := take(t, h, c, "api", r); !d.Allowed {
				t.Fatalf("new window, start %d: %+v", i, d)
			}
		}
		if d := take(t, h, c, "api", r); d.Allowed {
			t.Fatalf("new window full: %+v", d)
		}
	})

	t.Run("sliding window", func(t *testing.T) {
		h := newHarness(t)
		c, u := h.open(), h.unit
		r := RateRule{Period: u, PerPeriod: 2, Sliding: true}
		steps := []struct {
			at time.Duration // since the start, in tenths of the unit
			ok bool
		}{{0, true}, {6, true}, {9, false}, {10, true}, {15, false}, {16, true}}
		at := time.Duration(0)
		for _, s := range steps {
			h.advance((s.at - at) * u / 10)
			at = s.at
			d := take(t, h, c, "api", r)
			if d.Allowed != s.ok {
				t.Fatalf("at %d/10: %+v, want allowed %v", s.at, d, s.ok)
			}
			if h.exact && s.at == 9 && d.RetryAfter != u/10 {
				t.Fatalf("at 9/10: retry after %v, want %v", d.RetryAfter, u/10)
			}
		}
	})

	t.Run("instances share one count", func(t *testing.T) {
		h := newHarness(t)
		a, b := h.open(), h.open()
		for _, sliding := range []bool{false, true} {
			r := RateRule{Period: time.Hour, PerPeriod: 5, Sliding: sliding}
			allowed := 0
			for i := range 10 {
				c := a
				if i%2 == 1 {
					c = b
				}
				if take(t, h, c, "shared", r).Allowed {
					allowed++
				}
			}
			if allowed != 5 {
				t.Fatalf("sliding=%v: %d allowed across two instances, want 5", sliding, allowed)
			}
		}
	})

	t.Run("rules are taken together or not at all", func(t *testing.T) {
		h := newHarness(t)
		c := h.open()
		short := RateRule{Period: time.Hour, PerPeriod: 3}
		long := RateRule{Period: 2 * time.Hour, PerPeriod: 1, Sliding: true}
		if d := take(t, h, c, "api", short, long); !d.Allowed {
			t.Fatalf("first: %+v", d)
		}
		for range 3 {
			if d := take(t, h, c, "api", short, long); d.Allowed || d.Exhausted != 2 {
				t.Fatalf("long rule full: %+v", d)
			}
		}
		// Refused starts were recorded under no rule: short has room for two.
		for i := range 2 {
			if d := take(t, h, c, "api", short); !d.Allowed {
				t.Fatalf("short alone, start %d: %+v", i, d)
			}
		}
		if d := take(t, h, c, "api", short, long); d.Exhausted != 3 || d.RetryAfter > 2*time.Hour {
			t.Fatalf("both full: %+v", d)
		}
	})

	t.Run("keys are independent, hostile keys", func(t *testing.T) {
		h := newHarness(t)
		c := h.open()
		r := RateRule{Period: time.Hour, PerPeriod: 1}
		keys := []string{"api", "API", "a}b", "{api}", "x\ny\x00", "ünï", strings.Repeat("k", 64<<10), strings.Repeat("k", 64<<10-1) + "j", ""}
		for _, k := range keys {
			if d := take(t, h, c, k, r); !d.Allowed {
				t.Fatalf("first start of %.20q: %+v", k, d)
			}
		}
		for _, k := range keys {
			if d := take(t, h, c, k, r); d.Allowed {
				t.Fatalf("second start of %.20q allowed", k)
			}
		}
	})

	t.Run("concurrent takes never exceed the limit", func(t *testing.T) {
		h := newHarness(t)
		cs := []RateCounter{h.open(), h.open()}
		r := RateRule{Period: time.Hour, PerPeriod: 7, Sliding: true}
		var allowed atomic.Int64
		var wg sync.WaitGroup
		for i := range 40 {
			wg.Go(func() {
				if d, err := cs[i%2].Take(ctx, "race", []RateRule{r}, h.now()); err == nil && d.Allowed {
					allowed.Add(1)
				}
			})
		}
		wg.Wait()
		if allowed.Load() != 7 {
			t.Fatalf("%d allowed, want 7", allowed.Load())
		}
	})

	t.Run("per_period lowered keeps the newest starts", func(t *testing.T) {
		h := newHarness(t)
		c := h.open()
		for range 4 {
			take(t, h, c, "api", RateRule{Period: time.Hour, PerPeriod: 4, Sliding: true})
		}
		if d := take(t, h, c, "api", RateRule{Period: time.Hour, PerPeriod: 2, Sliding: true}); d.Allowed {
			t.Fatalf("lowered limit allowed a start: %+v", d)
		}
	})

	t.Run("invalid rules", func(t *testing.T) {
		h := newHarness(t)
		c := h.open()
		bad := [][]RateRule{nil, {{Period: 0, PerPeriod: 1}}, {{Period: time.Second, PerPeriod: 0}},
			make([]RateRule, MaxRateRules+1)}
		for i, rules := range bad {
			if _, err := c.Take(ctx, "api", rules, h.now()); !errors.Is(err, ErrInvalid) {
				t.Fatalf("case %d: %v", i, err)
			}
		}
	})
}

// The memory counter keeps its window when the clock goes back, and the
// wait it reports never exceeds the period.
func TestMemoryRateCounterClockBack(t *testing.T) {
	c := NewMemoryRateCounter()
	t0 := time.Unix(1000, 0)
	for _, sliding := range []bool{false, true} {
		r := []RateRule{{Period: time.Second, PerPeriod: 1, Sliding: sliding}}
		key := "k" + map[bool]string{true: "s"}[sliding]
		if d, _ := c.Take(context.Background(), key, r, t0); !d.Allowed {
			t.Fatal("first start refused")
		}
		d, _ := c.Take(context.Background(), key, r, t0.Add(-time.Hour))
		if d.Allowed || d.RetryAfter > time.Second {
			t.Fatalf("sliding=%v, clock an hour back: %+v", sliding, d)
		}
	}
}

// A sliding window with a large per_period keeps only starts younger than
// the period: memory follows the traffic, not the limit.
func TestMemoryRateCounterSlidingForgets(t *testing.T) {
	c := NewMemoryRateCounter()
	r := []RateRule{{Period: time.Second, PerPeriod: 1 << 30, Sliding: true}}
	t0 := time.Unix(1000, 0)
	for i := range 100 {
		if d, _ := c.Take(context.Background(), "api", r, t0.Add(time.Duration(i)*time.Millisecond)); !d.Allowed {
			t.Fatal("refused")
		}
	}
	c.Take(context.Background(), "api", r, t0.Add(2*time.Second))
	if n := len(c.windows[rateWindowKey{"api", time.Second, true}].times); n != 1 {
		t.Fatalf("%d starts kept, want 1", n)
	}
}
