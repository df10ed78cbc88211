package state

import (
	"context"
	"strings"
	"testing"
	"time"
)

// Keys live under the prefix, name the key when it is short and plain,
// hash it otherwise (no huge Redis keys, no broken hash tag), and expire.
func TestRedisRateCounterKeys(t *testing.T) {
	m, c := miniredisClient(t)
	rc := NewRedisRateCounter(c, "pfx:")
	ctx := context.Background()
	rules := []RateRule{{Period: time.Minute, PerPeriod: 5}, {Period: time.Second, PerPeriod: 5, Sliding: true}}
	for _, k := range []string{"api", strings.Repeat("x", 1<<20), "a{b}c"} {
		if _, err := rc.Take(ctx, k, rules, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	keys := m.Keys()
	want := map[string]bool{"pfx:{rl:api}:f:1m0s": true, "pfx:{rl:api}:s:1s": true}
	for _, k := range keys {
		if !strings.HasPrefix(k, "pfx:{rl:") || len(k) > 100 {
			t.Errorf("key %.60q: not under the prefix or too long", k)
		}
		delete(want, k)
		if ttl := m.TTL(k); ttl <= 0 || ttl > time.Minute+time.Second {
			t.Errorf("key %.60q: ttl %v", k, ttl)
		}
	}
	if len(keys) != 6 || len(want) != 0 {
		t.Fatalf("keys %q, missing %v", keys, want)
	}
}

// Instances whose clocks disagree by an hour still share the window: the
// script reads Redis's clock, not the caller's.
func TestRedisRateCounterIgnoresCallerClock(t *testing.T) {
	_, c := miniredisClient(t)
	a, b := NewRedisRateCounter(c, "p:"), NewRedisRateCounter(c, "p:")
	ctx := context.Background()
	r := []RateRule{{Period: time.Minute, PerPeriod: 1}}
	if d, err := a.Take(ctx, "api", r, time.Now()); err != nil || !d.Allowed {
		t.Fatalf("a: %+v %v", d, err)
	}
	if d, err := b.Take(ctx, "api", r, time.Now().Add(time.Hour)); err != nil || d.Allowed {
		t.Fatalf("b, clock an hour ahead: %+v %v", d, err)
	}
}

// A Redis whose clock went back (a failover to a replica behind) keeps the
// window, and no wait exceeds the period.
func TestRedisRateCounterServerClockBack(t *testing.T) {
	m, c := miniredisClient(t)
	rc := NewRedisRateCounter(c, "p:")
	ctx := context.Background()
	t0 := time.Unix(1_700_000_000, 0)
	for _, sliding := range []bool{false, true} {
		m.SetTime(t0)
		r := []RateRule{{Period: time.Second, PerPeriod: 1, Sliding: sliding}}
		if d, err := rc.Take(ctx, "api", r, time.Time{}); err != nil || !d.Allowed {
			t.Fatalf("first: %+v %v", d, err)
		}
		m.SetTime(t0.Add(-time.Hour))
		d, err := rc.Take(ctx, "api", r, time.Time{})
		if err != nil || d.Allowed || d.RetryAfter > time.Second {
			t.Fatalf("sliding=%v, Redis clock an hour back: %+v %v", sliding, d, err)
		}
	}
}

func TestRedisRateCounterDown(t *testing.T) {
	m, c := miniredisClient(t)
	rc := NewRedisRateCounter(c, "p:")
	m.Close()
	if _, err := rc.Take(context.Background(), "api", []RateRule{{Period: time.Second, PerPeriod: 1}}, time.Now()); err == nil {
		t.Fatal("Take on a stopped Redis: no error")
	}
}
