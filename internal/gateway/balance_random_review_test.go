package gateway

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
)

// Review of load_balancing random and p2c (balance_random.go).

var randomPolicies = []string{config.BalanceRandom, config.BalanceP2C}

// Candidates at weight 0 never come from the registry (it takes weight
// 0 out), but the pickers must still not panic, draw out of range or
// prefer a weightless origin over one with weight.
func TestReviewRandomWeightZeroCandidates(t *testing.T) {
	for _, policy := range randomPolicies {
		s := seededOriginSet(t, policy, 0, 3, 1, 1, 1)
		allZero := []candidate{{s.origins[0], 0, fullShare}, {s.origins[1], 0, fullShare}}
		for range 200 {
			if o := s.choose(allZero, requestKey{}); o != s.origins[0] && o != s.origins[1] {
				t.Fatalf("%s: all weights 0: picked %v", policy, o)
			}
		}
		// An idle weightless origin does not beat a busy one with weight.
		s.origins[2].inFlight.Store(40)
		mixed := []candidate{{s.origins[0], 0, fullShare}, {s.origins[1], 0, fullShare}, {s.origins[2], 3, fullShare}}
		for range 500 {
			if o := s.choose(mixed, requestKey{}); o != s.origins[2] {
				t.Fatalf("%s: picked %s at weight 0 over the only origin with weight", policy, o.name)
			}
		}
		s.origins[2].inFlight.Store(0)
	}
}

// A single eligible origin (the others down) is picked every time,
// without a draw.
func TestReviewRandomSingleEligible(t *testing.T) {
	for _, policy := range randomPolicies {
		s := testOriginSet(t, policy, 0, 5, 1, 3)
		s.randN = func(uint64) uint64 { t.Fatalf("%s: drew for a single candidate", policy); return 0 }
		snap := snapshotOf(s, []int{5, 1, 3}, 0, 2)
		if got := pickCounts(s, snap, time.Now(), 100); !slices.Equal(got, []int{0, 100, 0}) {
			t.Errorf("%s: %v", policy, got)
		}
	}
}

// Equal load per unit of weight is a tie for every pair: the picks
// follow the weights, whatever the load is.
func TestReviewP2CAllEqualInFlight(t *testing.T) {
	for _, tc := range []struct {
		weights  []int
		inFlight []int64
	}{
		{[]int{1, 1, 1, 1}, []int64{7, 7, 7, 7}},
		{[]int{1, 3}, []int64{2, 6}},
		{[]int{2, 1, 4}, []int64{10, 5, 20}},
	} {
		s := seededOriginSet(t, config.BalanceP2C, 0, 31, tc.weights...)
		ws := make([]float64, len(tc.weights))
		for i, w := range tc.weights {
			ws[i] = float64(w)
			s.origins[i].inFlight.Store(tc.inFlight[i])
		}
		wantShares(t, fmt.Sprintf("p2c weights %v in flight %v", tc.weights, tc.inFlight), pickCounts(s, nil, time.Now(), 30000), ws, 0.015)
	}
}

// A retry leaves out every origin tried, whatever the weights: five
// origins, one holding nearly all the weight, are each drawn exactly
// once in five attempts, and a sixth has nothing to draw.
func TestReviewRandomRetriesVisitEachOnce(t *testing.T) {
	for _, policy := range randomPolicies {
		s := seededOriginSet(t, policy, 0, 41, 256, 1, 1, 1, 1)
		s.origins[0].inFlight.Store(1000) // p2c: the heavy one is also the busy one
		for range 300 {
			var tried []*upstreamOrigin
			for attempt := range 5 {
				cands := s.candidates(nil, time.Now(), tried, false, nil)
				if len(cands) != 5-attempt {
					t.Fatalf("%s: attempt %d has %d candidates", policy, attempt, len(cands))
				}
				o := s.choose(cands, requestKey{})
				if containsOrigin(tried, o) {
					t.Fatalf("%s: attempt %d drew %s again (tried %d)", policy, attempt, o.name, len(tried))
				}
				tried = append(tried, o)
			}
			if left := s.candidates(nil, time.Now(), tried, false, nil); len(left) != 0 {
				t.Fatalf("%s: %d candidates after all were tried", policy, len(left))
			}
		}
	}
}

// Retries go to the backups once every primary was tried, and the
// backups are then drawn by their own weights.
func TestReviewRandomBackupsAfterPrimariesAndPanic(t *testing.T) {
	for _, policy := range randomPolicies {
		b := &config.Backend{BackendAttrs: config.BackendAttrs{LoadBalancing: policy, Origins: config.OriginList{
			{Origin: "http://127.0.0.1:3101"}, {Origin: "http://127.0.0.1:3102"},
			{Origin: "http://127.0.0.1:3103", Backup: true}, {Origin: "http://127.0.0.1:3104", Backup: true, Weight: ptrInt(3)},
		}}}
		s := newOriginSet("api", b, nil)
		s.randN = rand.New(rand.NewPCG(8, 9)).Uint64N
		weights := []int{1, 1, 1, 3}
		snap := snapshotOf(s, weights)
		tried := []*upstreamOrigin{s.origins[0], s.origins[1]}
		counts := make([]int, 4)
		for range 20000 {
			o := s.choose(s.candidates(snap, time.Now(), tried, false, nil), requestKey{})
			counts[slices.Index(s.origins, o)]++
		}
		wantShares(t, policy+" backups after the primaries", counts, []float64{0, 0, 1, 3}, 0.015)

		// panic_threshold with both primaries down and both backups up:
		// the backups are the tier drawn from, all of it eligible, so no
		// panic brings the primaries back and the weights still hold.
		threshold := 60
		s.panic = newOriginPanic(&config.Backend{BackendAttrs: config.BackendAttrs{PanicThreshold: &threshold}})
		got := pickCounts(s, snapshotOf(s, weights, 0, 1), time.Now(), 20000)
		wantShares(t, policy+" backups, primaries down, panic_threshold", got, []float64{0, 0, 1, 3}, 0.015)
	}
}

// slow_start at its smallest share: an origin back a moment ago, of
// weight 1 beside one of weight 256, still gets picks (its share is a
// tenth, never 0), and under p2c it takes the requests a loaded origin
// cannot; its in-flight count is weighed against its small share.
func TestReviewRandomSlowStartTinyShare(t *testing.T) {
	d := 10 * time.Minute
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, policy := range randomPolicies {
		s := seededOriginSet(t, policy, d, 51, 256, 1)
		weights := []int{256, 1}
		pickCounts(s, snapshotOf(s, weights, 1), t0, 1) // origin 1 seen down
		cands := s.candidates(snapshotOf(s, weights), t0, nil, false, nil)
		if cands[1].share != minShare || cands[1].effectiveWeight() == 0 {
			t.Fatalf("%s: just back: share %d, effective weight %d", policy, cands[1].share, cands[1].effectiveWeight())
		}
		got := pickCounts(s, snapshotOf(s, weights), t0, 400000)
		// 100 / (256000 + 100): about 156 of 400000.
		if got[1] < 60 || got[1] > 300 {
			t.Errorf("%s: the ramping origin got %d of 400000 picks, want about 156", policy, got[1])
		}
		if policy == config.BalanceP2C {
			// 256 in flight on weight 256 is 1 per unit; 1 in flight on
			// a tenth of weight 1 is 10: the heavy one still wins.
			s.origins[0].inFlight.Store(256)
			s.origins[1].inFlight.Store(1)
			if got := pickCounts(s, snapshotOf(s, weights), t0, 2000); got[1] != 0 {
				t.Errorf("p2c: ramping origin with 10 per unit beat 1 per unit: %v", got)
			}
			// 2600 on 256 is over 10 per unit: the ramping one wins.
			s.origins[0].inFlight.Store(2600)
			if got := pickCounts(s, snapshotOf(s, weights), t0, 2000); got[0] != 0 {
				t.Errorf("p2c: the origin with over 10 per unit beat the ramping one: %v", got)
			}
			s.origins[0].inFlight.Store(0)
			s.origins[1].inFlight.Store(0)
		}
	}
}

// Picks on many goroutines at once, with the production generator,
// health changes and slow start ramps: no race (run with -race), every
// pick an admitted origin, the in-flight counts back to 0.
func TestReviewRandomConcurrentPicks(t *testing.T) {
	for _, policy := range randomPolicies {
		s := testOriginSet(t, policy, time.Minute, 1, 2, 3, 4)
		weights := []int{1, 2, 3, 4}
		snaps := []*health.Snapshot{snapshotOf(s, weights), snapshotOf(s, weights, 1), snapshotOf(s, []int{1, 0, 3, 4})}
		var wg sync.WaitGroup
		errs := make(chan string, 8)
		for g := range 8 {
			wg.Go(func() {
				var buf [8]candidate
				for i := range 3000 {
					snap := snaps[(g+i)%len(snaps)]
					cands := s.candidates(snap, time.Now(), nil, false, buf[:0])
					o := s.choose(cands, requestKey{})
					if o == nil || o == s.origins[1] && snap != snaps[0] {
						select {
						case errs <- fmt.Sprintf("%s: picked %v from a snapshot without it", policy, o):
						default:
						}
						return
					}
					o.inFlight.Add(1)
					if i%3 == 0 {
						o.inFlight.Add(-1)
						continue
					}
					defer o.inFlight.Add(-1)
				}
			})
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Error(e)
		}
		for _, o := range s.origins {
			if n := o.inFlight.Load(); n != 0 {
				t.Errorf("%s: %s has %d in flight", policy, o.name, n)
			}
		}
	}
}

// The production generator costs no allocation per pick.
func TestReviewRandomPickAllocs(t *testing.T) {
	for _, policy := range randomPolicies {
		s := testOriginSet(t, policy, 0, 1, 2, 3, 4)
		cands := s.candidates(nil, time.Now(), nil, false, nil)
		if n := testing.AllocsPerRun(2000, func() { s.choose(cands, requestKey{}) }); n != 0 {
			t.Errorf("%s: %v allocations per pick", policy, n)
		}
	}
}

// BenchmarkReviewRandN compares the top-level generator the pickers
// use with one *rand.Rand behind a mutex, on every core at once: the
// claim is that the top-level one shares no lock between goroutines.
func BenchmarkReviewRandN(b *testing.B) {
	b.Run("top-level", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			var sink uint64
			for pb.Next() {
				sink += rand.Uint64N(1000)
			}
			_ = sink
		})
	})
	b.Run("shared-with-mutex", func(b *testing.B) {
		var mu sync.Mutex
		r := rand.New(rand.NewPCG(1, 2))
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			var sink uint64
			for pb.Next() {
				mu.Lock()
				sink += r.Uint64N(1000)
				mu.Unlock()
			}
			_ = sink
		})
	})
}

// waitInFlightZero waits until every origin of the harness's backend
// has nothing in flight, and fails with the counts if that does not
// happen within a generous bound (a leak never ends; no timing is
// judged).
func waitInFlightZero(t *testing.T, h *harness, what string) {
	t.Helper()
	set := h.gw.backends["api"].origins
	deadline := time.Now().Add(10 * time.Second)
	for {
		var counts []int64
		zero := true
		for _, o := range set.origins {
			n := o.inFlight.Load()
			counts = append(counts, n)
			zero = zero && n == 0
		}
		if zero {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: in flight %v, want all 0", what, counts)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// In-flight counts return to 0 after every way a request can end: an
// answer, a retried connect failure, a retried 503, a ttfb timeout, a
// client that leaves while the origin holds the request, and a client
// that leaves half way through the response body. A count that leaks
// would steer p2c away from a healthy origin for good.
func TestReviewP2CInFlightBalancedAfterFailures(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan string, 64)
	handler := func(name string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			switch {
			case strings.HasPrefix(r.URL.Path, "/hold"):
				arrived <- name
				select {
				case <-release:
				case <-r.Context().Done():
				}
			case strings.HasPrefix(r.URL.Path, "/half"):
				w.Header().Set("Content-Length", "100000")
				w.WriteHeader(200)
				w.Write([]byte(strings.Repeat("x", 1000)))
				w.(http.Flusher).Flush()
				arrived <- name
				select {
				case <-release:
				case <-r.Context().Done():
				}
				return
			case strings.HasPrefix(r.URL.Path, "/503") && name == "a":
				w.WriteHeader(503)
				return
			}
			echoHandler(w, r)
		}
	}
	tr := &transcript{}
	a, b := tr.origin(t, "a", handler("a")), tr.origin(t, "b", handler("b"))
	h := newHarness(t, originsYAML("      load_balancing: p2c\n      retries: 2\n      retry_on: [connect_failure, 503, timeout]\n      ttfb_timeout: 300ms\n", a, b, refusedOrigin(t)))
	t.Cleanup(func() { close(release) })

	h.sendN(t, "GET", paths(20)...)
	waitInFlightZero(t, h, "plain answers and refused connects")

	for i := range 10 {
		if resp, body := h.do("GET", fmt.Sprintf("/503/%d", i), nil, nil); resp.StatusCode != 200 {
			t.Fatalf("503 retried: %d %s", resp.StatusCode, body)
		}
	}
	waitInFlightZero(t, h, "503 retried on b")

	// Held past ttfb_timeout on both live origins, refused on the third:
	// the last attempt's error (504, or 502 when the refused one came last).
	resp, body := h.do("GET", "/hold/timeout", nil, nil)
	if resp.StatusCode != http.StatusGatewayTimeout && resp.StatusCode != http.StatusBadGateway {
		t.Errorf("held past ttfb_timeout: %d %s", resp.StatusCode, body)
	}
	for len(arrived) > 0 {
		<-arrived
	}
	waitInFlightZero(t, h, "ttfb timeouts")

	// The client leaves while the origin holds the request.
	h2 := newHarness(t, originsYAML("      load_balancing: p2c\n      ttfb_timeout: 1h\n      timeout: 1h\n", a, b))
	for i := range 4 {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			req, _ := http.NewRequestWithContext(ctx, "GET", h2.srv.URL+fmt.Sprintf("/hold/c%d", i), nil)
			if resp, err := h2.client.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
		<-arrived
		cancel()
		<-done
	}
	waitInFlightZero(t, h2, "clients that left while held")

	// The client leaves half way through the body.
	for i := range 4 {
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, "GET", h2.srv.URL+fmt.Sprintf("/half/%d", i), nil)
		resp, err := h2.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		<-arrived
		buf := make([]byte, 10)
		resp.Body.Read(buf)
		cancel()
		resp.Body.Close()
	}
	waitInFlightZero(t, h2, "clients that left half way through the body")
}

// With two origins p2c compares both every time, but per unit of
// weight: with weights 4:1 and 3:1 in flight it takes the heavy origin
// (3/4 < 1/1), where least_connections, which ignores weights, takes
// the light one (1 < 3). The docs must not call the two the same.
func TestReviewP2CTwoOriginsPerWeightNotLeastConnections(t *testing.T) {
	p2c := seededOriginSet(t, config.BalanceP2C, 0, 61, 4, 1)
	least := testOriginSet(t, config.BalanceLeastConnections, 0, 4, 1)
	for _, s := range []*originSet{p2c, least} {
		s.origins[0].inFlight.Store(3)
		s.origins[1].inFlight.Store(1)
	}
	if got := pickCounts(p2c, nil, time.Now(), 1000); got[1] != 0 {
		t.Errorf("p2c: %v, want every pick on the heavy origin", got)
	}
	if got := pickCounts(least, nil, time.Now(), 1000); got[0] != 0 {
		t.Errorf("least_connections: %v, want every pick on the light origin", got)
	}
}

// p2c, like least_connections, favours an origin whose requests end
// soon: one that answers at once (a fast 5xx, say) beside one that takes
// 20 ticks gets far more than its half, where random keeps the weights.
// Deterministic: one request per tick from a fixed seed.
func TestReviewP2CFavoursFastOrigin(t *testing.T) {
	holds := []int{1, 20}
	run := func(policy string) []int {
		s := seededOriginSet(t, policy, 0, 71, 1, 1)
		counts := make([]int, 2)
		ends := map[int][]*upstreamOrigin{}
		for tick := range 20000 {
			for _, o := range ends[tick] {
				o.inFlight.Add(-1)
			}
			delete(ends, tick)
			o := s.choose(s.candidates(nil, time.Now(), nil, false, nil), requestKey{})
			i := slices.Index(s.origins, o)
			counts[i]++
			o.inFlight.Add(1)
			ends[tick+holds[i]] = append(ends[tick+holds[i]], o)
		}
		return counts
	}
	if got := run(config.BalanceP2C); float64(got[0])/20000 < 0.8 {
		t.Errorf("p2c: the fast origin got %v, want well over half", got)
	}
	wantShares(t, "random", run(config.BalanceRandom), []float64{1, 1}, 0.02)
}

// A reload builds new in-flight counts: a request still running on the
// old configuration is counted there only, and its end neither lowers
// the new count below 0 nor leaves the old one above it. The slow start
// ramp of a kept origin is the same object in both.
func TestReviewP2CReloadInFlight(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 1)
	a := serveForTest(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			arrived <- struct{}{}
			<-release
		}
		echoHandler(w, r)
	}))
	defer a.Close()
	m, err := NewMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	build := func() *Gateway {
		g, err := New(Options{Config: parseConfig(t, originsYAML("      load_balancing: p2c\n      slow_start: 1m\n", a.URL, refusedOrigin(t))), Metrics: m})
		if err != nil {
			t.Fatal(err)
		}
		g.Activate()
		return g
	}
	g1 := build()
	defer g1.Close()
	done := make(chan int)
	go func() {
		rec := httptest.NewRecorder()
		g1.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/hold", nil))
		done <- rec.Code
	}()
	<-arrived
	old := g1.backends["api"].origins.origins[0]
	if n := old.inFlight.Load(); n != 1 {
		t.Fatalf("old configuration counts %d in flight", n)
	}
	g2 := build()
	defer g2.Close()
	kept := g2.backends["api"].origins.origins[0]
	if kept.inFlight.Load() != 0 || kept.ramp != old.ramp {
		t.Fatalf("new configuration: %d in flight, same ramp %v", kept.inFlight.Load(), kept.ramp == old.ramp)
	}
	close(release)
	if code := <-done; code != 200 {
		t.Errorf("held request: %d", code)
	}
	if o, n := old.inFlight.Load(), kept.inFlight.Load(); o != 0 || n != 0 {
		t.Errorf("after the held request ended: old %d, new %d in flight", o, n)
	}
}
