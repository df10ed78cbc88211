package gateway

import (
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
)

func TestRampShare(t *testing.T) {
	d := 100 * time.Second
	for _, tt := range []struct {
		elapsed time.Duration
		want    int
	}{
		{0, minShare}, {5 * time.Second, minShare}, {10 * time.Second, 100}, {50 * time.Second, 500},
		{99 * time.Second, 990}, {d, fullShare}, {time.Hour, fullShare}, {-time.Second, minShare},
	} {
		if got := rampShare(tt.elapsed, d); got != tt.want {
			t.Errorf("rampShare(%s) = %d, want %d", tt.elapsed, got, tt.want)
		}
	}
}

// The clock is passed in: no sleeping, no timing thresholds.
func TestOriginRampTransitions(t *testing.T) {
	d := 100 * time.Second
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := &originRamp{}
	if got := r.observe(true, t0, d); got != fullShare {
		t.Fatalf("an origin up from the start ramps: %d", got)
	}
	r.observe(false, t0.Add(time.Second), d)
	if got := r.observe(true, t0.Add(10*time.Second), d); got != minShare {
		t.Errorf("just recovered: share %d, want %d", got, minShare)
	}
	if got := r.observe(true, t0.Add(60*time.Second), d); got != 500 {
		t.Errorf("half way: share %d, want 500", got)
	}
	if got := r.observe(true, t0.Add(110*time.Second), d); got != fullShare || r.state.Load() != rampSteady {
		t.Errorf("after the ramp: share %d state %d", got, r.state.Load())
	}
	// Going down in the middle of a ramp starts it over.
	r.observe(false, t0.Add(200*time.Second), d)
	r.observe(true, t0.Add(210*time.Second), d)
	r.observe(false, t0.Add(220*time.Second), d)
	if got := r.observe(true, t0.Add(230*time.Second), d); got != minShare {
		t.Errorf("down again mid-ramp, then up: share %d", got)
	}
}

// Under weighted, a recovering origin's weight is scaled by its share:
// two origins of weight 1, one at half its share, split 2:1.
func TestSlowStartWeightedAndRoundRobin(t *testing.T) {
	for _, policy := range []string{config.BalanceWeighted, config.BalanceRoundRobin, config.BalanceLeastConnections} {
		t.Run(policy, func(t *testing.T) {
			d := 100 * time.Second
			s := testOriginSet(t, policy, d, 1, 1)
			t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			weights := []int{1, 1}
			count := func(snap *health.Snapshot, now time.Time, n int) map[*upstreamOrigin]int {
				out := map[*upstreamOrigin]int{}
				for range n {
					out[s.choose(s.candidates(snap, now, nil, false, nil), requestKey{})]++
				}
				return out
			}
			a, b := s.origins[0], s.origins[1]
			if got := count(snapshotOf(s, weights), t0, 100); got[a] != 50 || got[b] != 50 {
				t.Fatalf("steady: %d/%d", got[a], got[b])
			}
			if got := count(snapshotOf(s, weights, 1), t0.Add(time.Second), 10); got[b] != 0 {
				t.Fatalf("down origin picked %d times", got[b])
			}
			up := snapshotOf(s, weights)
			count(up, t0.Add(2*time.Second), 1) // sees b back: its ramp starts
			// Half way: shares 1000 and 500 give exactly 2:1 per cycle of 3.
			if got := count(up, t0.Add(52*time.Second), 300); got[a] != 200 || got[b] != 100 {
				t.Errorf("half way through the ramp: a %d b %d of 300, want 200/100", got[a], got[b])
			}
			if got := count(up, t0.Add(200*time.Second), 100); got[a] != 50 || got[b] != 50 {
				t.Errorf("after the ramp: a %d b %d", got[a], got[b])
			}
		})
	}
}

// A hash policy ignores slow_start: a recovered origin gets its keys
// back at once.
func TestSlowStartIgnoredByHashPolicies(t *testing.T) {
	s := testOriginSet(t, config.BalanceHeaderHash, time.Hour, 1, 1, 1)
	weights := []int{1, 1, 1}
	before := mapping(s, snapshotOf(s, weights), 3000)
	mapping(s, snapshotOf(s, weights, 0), 10)
	if after := mapping(s, snapshotOf(s, weights), 3000); !equalInts(after, before) {
		t.Error("a recovered origin did not get its keys back at once")
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// The first configuration's origins start steady; a reload's new origin
// ramps from the first pick that sees it; a kept one keeps its ramp; a
// removed one is forgotten.
func TestRampMemoryAcrossReloads(t *testing.T) {
	m := newRampMemory()
	first := m.forOrigin("gateway:api@http://a:1")
	m.built()
	if first.state.Load() != rampSteady {
		t.Fatal("an origin of the first configuration starts down")
	}
	if m.forOrigin("gateway:api@http://a:1") != first {
		t.Error("a reload lost an origin's ramp")
	}
	added := m.forOrigin("gateway:api@http://b:1")
	if added.state.Load() != rampDown {
		t.Fatal("an origin a reload added starts steady")
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if got := added.observe(true, now, time.Minute); got != minShare {
		t.Errorf("added origin's first share %d", got)
	}
	b := &config.Backend{BackendAttrs: config.BackendAttrs{LoadBalancing: config.BalanceRoundRobin, Origins: config.OriginList{{Origin: "http://a:1"}}}}
	old := &config.Backend{BackendAttrs: config.BackendAttrs{LoadBalancing: config.BalanceRoundRobin, Origins: config.OriginList{{Origin: "http://a:1"}, {Origin: "http://b:1"}}}}
	m.forget([]*backendRuntime{{origins: newOriginSet("api", old, m)}}, []*backendRuntime{{origins: newOriginSet("api", b, m)}})
	if _, ok := m.byID["gateway:api@http://b:1"]; ok || len(m.byID) != 1 || m.byID["gateway:api@http://a:1"] != first {
		t.Errorf("after forget: %v", m.byID)
	}
	if m.forOrigin("gateway:api@http://b:1").state.Load() != rampDown {
		t.Error("an origin added back after removal does not ramp")
	}
}

// Through New with shared metrics, as serve reloads: the first
// configuration's origins are steady, an origin the reload adds starts
// down (it ramps once seen eligible), a kept one keeps its state, and
// once the old gateway is gone a removed origin is forgotten.
func TestSlowStartReloadAddsOrigin(t *testing.T) {
	m, err := NewMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	build := func(origins ...string) *Gateway {
		t.Helper()
		yml := originsYAML("      load_balancing: weighted\n      slow_start: 1m\n", origins...)
		g, err := New(Options{Config: parseConfig(t, yml), Metrics: m})
		if err != nil {
			t.Fatal(err)
		}
		g.Activate()
		t.Cleanup(g.Close)
		return g
	}
	g1 := build("http://127.0.0.1:4001", "http://127.0.0.1:4002")
	for _, o := range g1.backends["api"].origins.origins {
		if o.ramp.state.Load() != rampSteady {
			t.Fatalf("%s ramps at startup", o.name)
		}
	}
	g2 := build("http://127.0.0.1:4001", "http://127.0.0.1:4003")
	set := g2.backends["api"].origins
	if set.origins[0].ramp != g1.backends["api"].origins.origins[0].ramp {
		t.Error("the kept origin lost its ramp state")
	}
	if set.origins[1].ramp.state.Load() != rampDown {
		t.Fatal("the added origin does not ramp")
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cands := set.candidates(nil, now, nil, false, nil)
	if len(cands) != 2 || cands[0].share != fullShare || cands[1].share != minShare {
		t.Errorf("candidates after the reload: %+v", cands)
	}
	m.ForgetUnused(g1)
	m.m.ramps.mu.Lock()
	_, kept := m.m.ramps.byID[BackendID("api", "http", "127.0.0.1:4002")]
	m.m.ramps.mu.Unlock()
	if kept {
		t.Error("the removed origin's ramp is still remembered")
	}
}
