package gateway

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
)

// seededOriginSet is testOriginSet with a fixed random sequence, so a
// distribution test counts the same picks on every run.
func seededOriginSet(t *testing.T, policy string, slowStart time.Duration, seed uint64, weights ...int) *originSet {
	t.Helper()
	s := testOriginSet(t, policy, slowStart, weights...)
	s.randN = rand.New(rand.NewPCG(seed, seed+1)).Uint64N
	return s
}

// pickCounts is how often each origin of s (by index) is picked in n
// picks from the candidates of snap (nil: no health source), nothing in
// flight.
func pickCounts(s *originSet, snap *health.Snapshot, now time.Time, n int) []int {
	idx := map[*upstreamOrigin]int{}
	for i, o := range s.origins {
		idx[o] = i
	}
	out := make([]int, len(s.origins))
	var buf [8]candidate
	for range n {
		out[idx[s.choose(s.candidates(snap, now, nil, false, buf[:0]), requestKey{})]]++
	}
	return out
}

func wantShares(t *testing.T, what string, counts []int, weights []float64, tolerance float64) {
	t.Helper()
	total, sum := 0, 0.0
	for i := range counts {
		total += counts[i]
		sum += weights[i]
	}
	for i, c := range counts {
		got, want := float64(c)/float64(total), weights[i]/sum
		if math.Abs(got-want) > tolerance {
			t.Errorf("%s: origin %d has share %.4f, want %.4f±%.3f (counts %v)", what, i, got, want, tolerance, counts)
		}
	}
}

// Both policies follow the weights when nothing is in flight (p2c's tie
// goes to its first draw, itself weighted): 40000 picks from a fixed
// seed, within 0.015 of the weights' shares (the standard deviation of a
// share is at most 0.0025).
func TestRandomPoliciesFollowWeights(t *testing.T) {
	for _, policy := range []string{config.BalanceRandom, config.BalanceP2C} {
		for seed, weights := range [][]int{{1, 1}, {1, 1, 1, 1}, {1, 2, 3, 4}, {10, 1}, {256, 1, 1}, {1, 256}} {
			s := seededOriginSet(t, policy, 0, uint64(seed)+1, weights...)
			ws := make([]float64, len(weights))
			for i, w := range weights {
				ws[i] = float64(w)
			}
			wantShares(t, policy, pickCounts(s, nil, time.Now(), 40000), ws, 0.015)
		}
	}
}

// The registry's effective weight (the admin API) is the one drawn by,
// and weight 0 takes an origin out.
func TestRandomPoliciesUseEffectiveWeights(t *testing.T) {
	for _, policy := range []string{config.BalanceRandom, config.BalanceP2C} {
		s := seededOriginSet(t, policy, 0, 7, 1, 1, 1)
		counts := pickCounts(s, snapshotOf(s, []int{3, 0, 1}), time.Now(), 20000)
		if counts[1] != 0 {
			t.Errorf("%s: the origin at weight 0 got %d picks", policy, counts[1])
		}
		wantShares(t, policy+" admin weights", counts, []float64{3, 0, 1}, 0.015)
	}
}

// p2c takes the less loaded of its two draws, load counted per unit of
// weight; a tie goes to the first draw.
func TestP2CPrefersLessLoaded(t *testing.T) {
	for _, tt := range []struct {
		name     string
		weights  []int
		inFlight []int64
		want     []float64 // shares of the picks
	}{
		// Two origins are always both drawn: the idle one wins every time.
		{"two origins, one busy", []int{1, 1}, []int64{5, 0}, []float64{0, 1}},
		{"two origins, one request apart", []int{1, 1}, []int64{3, 2}, []float64{0, 1}},
		// Any pair holds an idle origin: the busy one never wins.
		{"three origins, one busy", []int{1, 1, 1}, []int64{1, 0, 0}, []float64{0, 1, 1}},
		// Per unit of weight: 3 in flight on weight 4 is less than 1 on 1.
		{"heavier origin with more in flight", []int{4, 1}, []int64{3, 1}, []float64{1, 0}},
		{"heavier origin over its share", []int{4, 1}, []int64{5, 1}, []float64{0, 1}},
		// 4/4 = 1/1: a tie, the first draw wins, so the weights decide.
		{"tie per weight", []int{4, 1}, []int64{4, 1}, []float64{4, 1}},
		// The busiest of four loses every pair it is in; the pairs of the
		// other three tie and follow the draws. Origin 0 is drawn in half
		// the pairs of 4 (pairs are distinct), so the rest split evenly.
		{"four origins, one busy", []int{1, 1, 1, 1}, []int64{2, 0, 0, 0}, []float64{0, 1, 1, 1}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := seededOriginSet(t, config.BalanceP2C, 0, 11, tt.weights...)
			for i, n := range tt.inFlight {
				s.origins[i].inFlight.Store(n)
			}
			counts := pickCounts(s, nil, time.Now(), 20000)
			for i, w := range tt.want {
				if w == 0 && counts[i] != 0 {
					t.Errorf("origin %d (weight %d, %d in flight) got %d picks: %v", i, tt.weights[i], tt.inFlight[i], counts[i], counts)
				}
			}
			wantShares(t, "p2c", counts, tt.want, 0.02)
		})
	}
}

// random ignores the load: a busy origin keeps its share.
func TestRandomIgnoresLoad(t *testing.T) {
	s := seededOriginSet(t, config.BalanceRandom, 0, 3, 1, 1)
	s.origins[0].inFlight.Store(100)
	wantShares(t, "random", pickCounts(s, nil, time.Now(), 20000), []float64{1, 1}, 0.015)
}

// loadSimulation sends requests to s one per tick, each lasting hold
// ticks, from a fixed seed: how many each origin got, and the mean over
// the ticks of the spread of in-flight per unit of weight (the busiest
// origin's less the idlest's).
func loadSimulation(s *originSet, weights []int, ticks, hold int) (counts []int, spread float64) {
	idx := map[*upstreamOrigin]int{}
	for i, o := range s.origins {
		idx[o] = i
	}
	counts = make([]int, len(s.origins))
	ends := make([][]*upstreamOrigin, hold) // requests ending at tick%hold
	var buf [8]candidate
	for tick := range ticks {
		for _, o := range ends[tick%hold] {
			o.inFlight.Add(-1)
		}
		ends[tick%hold] = ends[tick%hold][:0]
		o := s.choose(s.candidates(nil, time.Now(), nil, false, buf[:0]), requestKey{})
		o.inFlight.Add(1)
		counts[idx[o]]++
		ends[tick%hold] = append(ends[tick%hold], o)
		lo, hi := math.Inf(1), math.Inf(-1)
		for i, x := range s.origins {
			perWeight := float64(x.inFlight.Load()) / float64(weights[i])
			lo, hi = min(lo, perWeight), max(hi, perWeight)
		}
		spread += hi - lo
	}
	for _, list := range ends {
		for _, o := range list {
			o.inFlight.Add(-1)
		}
	}
	return counts, spread / float64(ticks)
}

// Under sustained load p2c still gives each origin its weight's share
// (requests of equal length: in flight per unit of weight is balanced),
// and it keeps the origins' loads closer together than random does with
// the same draws: what the second choice is for.
func TestP2CUnderLoad(t *testing.T) {
	for seed, weights := range [][]int{{1, 1, 1, 1}, {1, 3}, {1, 2, 3, 4}} {
		ws := make([]float64, len(weights))
		for i, w := range weights {
			ws[i] = float64(w)
		}
		p2c := seededOriginSet(t, config.BalanceP2C, 0, uint64(seed)+21, weights...)
		counts, p2cSpread := loadSimulation(p2c, weights, 40000, 24)
		wantShares(t, "p2c under load", counts, ws, 0.02)
		random := seededOriginSet(t, config.BalanceRandom, 0, uint64(seed)+21, weights...)
		counts, randomSpread := loadSimulation(random, weights, 40000, 24)
		wantShares(t, "random under load", counts, ws, 0.02)
		if p2cSpread >= randomSpread*0.6 {
			t.Errorf("weights %v: p2c's mean load spread %.2f is not well under random's %.2f", weights, p2cSpread, randomSpread)
		}
		for _, o := range p2c.origins {
			if n := o.inFlight.Load(); n != 0 {
				t.Fatalf("simulation left %d in flight", n)
			}
		}
	}
}

// Backups are drawn only when no primary is admitted, and then by their
// own weights and loads.
func TestRandomPoliciesBackups(t *testing.T) {
	for _, policy := range []string{config.BalanceRandom, config.BalanceP2C} {
		b := &config.Backend{BackendAttrs: config.BackendAttrs{LoadBalancing: policy, Origins: config.OriginList{
			{Origin: "http://127.0.0.1:3001"}, {Origin: "http://127.0.0.1:3002", Backup: true},
			{Origin: "http://127.0.0.1:3003"}, {Origin: "http://127.0.0.1:3004", Backup: true, Weight: ptrInt(3)},
		}}}
		s := newOriginSet("api", b, nil)
		s.randN = rand.New(rand.NewPCG(5, 6)).Uint64N
		// An idle backup does not draw a pick from busy primaries.
		s.origins[0].inFlight.Store(50)
		s.origins[2].inFlight.Store(50)
		weights := []int{1, 1, 1, 3}
		if got := pickCounts(s, snapshotOf(s, weights), time.Now(), 4000); got[1] != 0 || got[3] != 0 {
			t.Errorf("%s: backups picked with primaries up: %v", policy, got)
		}
		s.origins[0].inFlight.Store(0)
		s.origins[2].inFlight.Store(0)
		got := pickCounts(s, snapshotOf(s, weights, 0, 2), time.Now(), 20000)
		if got[0] != 0 || got[2] != 0 {
			t.Errorf("%s: primaries that are down picked: %v", policy, got)
		}
		wantShares(t, policy+" backups", got, []float64{0, 1, 0, 3}, 0.015)
	}
}

func ptrInt(n int) *int { return &n }

// A retry leaves out the origin tried, whatever the draw: with two
// origins it always goes to the other one, and with none left untried
// there is no candidate (balanceLayer then answers with the last error).
func TestRandomPoliciesRetryElsewhere(t *testing.T) {
	for _, policy := range []string{config.BalanceRandom, config.BalanceP2C} {
		s := seededOriginSet(t, policy, 0, 9, 1, 100)
		for range 1000 {
			first := s.choose(s.candidates(nil, time.Now(), nil, false, nil), requestKey{})
			cands := s.candidates(nil, time.Now(), []*upstreamOrigin{first}, false, nil)
			if second := s.choose(cands, requestKey{}); second == first {
				t.Fatalf("%s: the retry drew %s again", policy, first.name)
			}
			if left := s.candidates(nil, time.Now(), s.origins, false, nil); len(left) != 0 {
				t.Fatalf("%s: candidates after every origin was tried: %d", policy, len(left))
			}
		}
	}
}

// Nothing eligible: no candidate without use_when_unhealthy; with
// panic_threshold every origin the checks took out is drawn again, by
// weight.
func TestRandomPoliciesPanic(t *testing.T) {
	for _, policy := range []string{config.BalanceRandom, config.BalanceP2C} {
		s := seededOriginSet(t, policy, 0, 13, 1, 1, 2)
		allDown := snapshotOf(s, []int{1, 1, 2}, 0, 1, 2)
		if got := s.candidates(allDown, time.Now(), nil, false, nil); len(got) != 0 {
			t.Fatalf("%s: %d candidates with every origin down", policy, len(got))
		}
		threshold := 50
		s.panic = newOriginPanic(&config.Backend{BackendAttrs: config.BackendAttrs{PanicThreshold: &threshold}})
		oneUp := snapshotOf(s, []int{1, 1, 2}, 1, 2) // 1 of 3 eligible: panic
		wantShares(t, policy+" in panic", pickCounts(s, oneUp, time.Now(), 20000), []float64{1, 1, 2}, 0.015)
	}
}

// slow_start scales a ramping origin's weight by its share: half way
// through its ramp an origin of weight 1 is drawn half as often as its
// peer (random), and p2c counts its load against the scaled weight too.
func TestRandomPoliciesSlowStart(t *testing.T) {
	d := 100 * time.Second
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, policy := range []string{config.BalanceRandom, config.BalanceP2C} {
		s := seededOriginSet(t, policy, d, 17, 1, 1)
		weights := []int{1, 1}
		pickCounts(s, snapshotOf(s, weights, 1), t0, 1) // origin 1 seen down
		pickCounts(s, snapshotOf(s, weights), t0.Add(time.Second), 1)
		half := t0.Add(51 * time.Second)
		wantShares(t, policy+" half way", pickCounts(s, snapshotOf(s, weights), half, 30000), []float64{2, 1}, 0.015)
		if policy == config.BalanceP2C {
			// 1 in flight on a half share weighs as 2 on the full one.
			s.origins[0].inFlight.Store(1)
			s.origins[1].inFlight.Store(1)
			if got := pickCounts(s, snapshotOf(s, weights), half, 2000); got[1] != 0 {
				t.Errorf("p2c: the ramping origin at equal load got %d picks: %v", got[1], got)
			}
			s.origins[0].inFlight.Store(3)
			if got := pickCounts(s, snapshotOf(s, weights), half, 2000); got[0] != 0 {
				t.Errorf("p2c: the origin with 3 in flight beat the ramping one with 1 (2 per full share): %v", got)
			}
			s.origins[0].inFlight.Store(0)
			s.origins[1].inFlight.Store(0)
		}
		wantShares(t, policy+" after the ramp", pickCounts(s, snapshotOf(s, weights), t0.Add(time.Hour), 20000), []float64{1, 1}, 0.015)
	}
}

// The draw never goes past the candidates, whatever the generator says
// (the extremes of [0, n)), and a single candidate needs no draw.
func TestRandomDrawBounds(t *testing.T) {
	for _, policy := range []string{config.BalanceRandom, config.BalanceP2C} {
		s := testOriginSet(t, policy, 0, 1, 2, 3)
		for _, r := range []func(uint64) uint64{func(uint64) uint64 { return 0 }, func(n uint64) uint64 { return n - 1 }} {
			s.randN = r
			for range 3 {
				if o := s.choose(s.candidates(nil, time.Now(), nil, false, nil), requestKey{}); o == nil {
					t.Fatalf("%s: no origin", policy)
				}
			}
		}
		s.randN = func(uint64) uint64 { t.Fatal("drew for a single candidate"); return 0 }
		if o := s.choose(s.candidates(nil, time.Now(), s.origins[1:], false, nil), requestKey{}); o != s.origins[0] {
			t.Errorf("%s: single candidate: got %v", policy, o.name)
		}
	}
}
