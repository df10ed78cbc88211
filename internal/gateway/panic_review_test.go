package gateway

import (
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
)

// panicSlowSet is panicSet with slow_start.
func panicSlowSet(threshold int, slow time.Duration, n int) (*originSet, health.Group) {
	b := &config.Backend{BackendAttrs: config.BackendAttrs{LoadBalancing: config.BalanceRoundRobin, SlowStart: slow}}
	for i := 0; i < n; i++ {
		b.Origins = append(b.Origins, config.OriginEntry{Origin: "http://127.0.0.1:" + string(rune('1'+i)) + "000"})
	}
	b.PanicThreshold = &threshold
	s := newOriginSet("api", b, nil)
	g := health.Group{Name: "gateway:api", PanicThreshold: threshold}
	for _, o := range s.origins {
		g.IDs = append(g.IDs, o.id)
	}
	return s, g
}

func sharesOf(cs []candidate) map[string]int {
	out := map[string]int{}
	for _, c := range cs {
		out[c.o.origin.hostPort()] = c.share
	}
	return out
}

// Bug: panic admitted an unhealthy origin as "eligible" for slow start.
// An origin that went down before the panic then ramped from a tenth of
// its share while still unhealthy, so the one healthy origin kept most
// of the load panic is meant to spread; and an origin that went down
// straight into panic was never seen down, so it did not ramp when its
// checks really recovered. A panic-admitted origin gets its full share,
// as a use_when_unhealthy fallback does, and ramps when it recovers.
func TestReviewPanicAdmittedOriginDoesNotRamp(t *testing.T) {
	slow := 100 * time.Second
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s, g := panicSlowSet(50, slow, 4)
	src := &staticHealth{}

	src.set(g, []bool{true, true, true, true}, nil)
	s.candidates(src.Snapshot(), t0, nil, false, nil)
	// Two of four down: no panic yet (50 % is not below 50).
	src.set(g, []bool{true, true, false, false}, nil)
	s.candidates(src.Snapshot(), t0.Add(time.Second), nil, false, nil)
	// A third goes down: panic, every origin admitted.
	src.set(g, []bool{true, false, false, false}, nil)
	got := sharesOf(s.candidates(src.Snapshot(), t0.Add(2*time.Second), nil, false, nil))
	if len(got) != 4 {
		t.Fatalf("panic candidates %v", got)
	}
	for name, share := range got {
		if share != fullShare {
			t.Errorf("in panic %s has share %d, want %d (an unhealthy origin does not ramp)", name, share, fullShare)
		}
	}

	// The checks recover: the origins that were down ramp now.
	src.set(g, []bool{true, true, true, true}, nil)
	got = sharesOf(s.candidates(src.Snapshot(), t0.Add(10*time.Second), nil, false, nil))
	for _, name := range []string{"127.0.0.1:2000", "127.0.0.1:3000", "127.0.0.1:4000"} {
		if got[name] != minShare {
			t.Errorf("just recovered, %s has share %d, want %d", name, got[name], minShare)
		}
	}
	if got["127.0.0.1:1000"] != fullShare {
		t.Errorf("the origin that stayed up: share %d", got["127.0.0.1:1000"])
	}
}
