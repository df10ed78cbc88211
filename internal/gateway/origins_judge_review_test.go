package gateway

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
	"weak"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
)

// reviewOrigins is a gateway whose backend api has origins a, b, c and
// the backup d, its health a staticHealth the test publishes to, and
// every origin's pool a fixedTransport.
func reviewOrigins(t *testing.T, backend string) (*Gateway, *staticHealth, health.Group) {
	t.Helper()
	cfg, err := config.Parse([]byte(originsYAML(backend+"      beta_health: {}\n",
		"http://a.test", "http://b.test", "http://c.test", backupOrigin("http://d.test"))))
	if err != nil {
		t.Fatal(err)
	}
	gw, err := New(Options{Config: cfg, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gw.Close)
	src := &staticHealth{}
	gw.SetHealth(src)
	ts := gw.backends["api"].transports
	for _, host := range []string{"a.test:80", "b.test:80", "c.test:80", "d.test:80"} {
		ts.pools[poolKey{transportKey: transportKey{scheme: "http", hostPort: host}}] = fixedTransport{}
	}
	var grp health.Group
	for _, g := range gw.HealthGroups() {
		if g.Name == GroupPrefix+"api" {
			grp = g
		}
	}
	if len(grp.IDs) != 4 {
		t.Fatalf("health group of api: %+v", grp)
	}
	return gw, src, grp
}

// A request whose answer is still being streamed (a download, a
// WebSocket, an event stream: its call lives as long) does not keep the
// health snapshot its gate judged alive: the carried judgement is for
// the pick only. Otherwise every long request pins the snapshot of its
// start, with every backend's entry, for hours.
func TestReviewStreamingRequestDoesNotPinSnapshot(t *testing.T) {
	gw, src, grp := reviewOrigins(t, "      load_balancing: round_robin\n")
	bv := gw.views["api"]
	chain := &originsGateLayer{useWhenUnhealthy: false,
		next: &balanceLayer{set: bv.rt.origins, next: answerLayer{}}}
	up := &upstream{req: httptest.NewRequest(http.MethodGet, "/x", nil)}

	src.set(grp, []bool{true, true, true, true}, nil)
	first := weak.Make(src.Snapshot())
	long := new(call)
	*long = call{g: gw, ctx: context.Background(), bv: bv, up: up}
	ex, gerr := chain.roundTrip(long)
	if gerr != nil {
		t.Fatal(gerr)
	}

	// The checks go on: a new snapshot, and a short request judging it
	// (the set's own cache moves on to it).
	src.set(grp, []bool{true, false, true, true}, nil)
	short := &call{g: gw, ctx: context.Background(), bv: bv, up: up}
	ex2, gerr := chain.roundTrip(short)
	if gerr != nil {
		t.Fatal(gerr)
	}
	ex2.done()

	runtime.GC()
	runtime.GC()
	if first.Value() != nil {
		t.Error("the snapshot of a request still streaming its answer is kept alive by its call")
	}
	runtime.KeepAlive(long)
	ex.done()
}

// The gate's judgement carried to the pick gives, with slow start, the
// candidates and shares that judging again at the pick gives (the way
// before the judgement was carried), over random sequences of snapshots,
// some published between a gate and its pick, and instants. Two sets of
// the same configuration, each with its own ramps, one driven each way.
func TestReviewCarriedJudgementMatchesRejudgingOverTime(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	t0 := time.Unix(1_700_000_000, 0)
	for round := range 400 {
		b := &config.Backend{BackendAttrs: config.BackendAttrs{LoadBalancing: config.BalanceWeighted, SlowStart: time.Minute}}
		n := 1 + r.IntN(5)
		for i := range n {
			w := r.IntN(3)
			b.Origins = append(b.Origins, config.OriginEntry{Origin: fmt.Sprintf("http://127.0.0.1:%d", 3000+i), Weight: &w, Backup: r.IntN(3) == 0})
		}
		threshold := []int{0, 50, 100}[r.IntN(3)]
		b.PanicThreshold = &threshold
		carriedRamps, rejudgedRamps := newRampMemory(), newRampMemory()
		carriedRamps.built()
		rejudgedRamps.built()
		carried := newOriginSet("api", b, carriedRamps)
		rejudged := newOriginSet("api", b, rejudgedRamps)
		now := t0
		carried.clock = func() time.Time { return now }
		rejudged.clock = func() time.Time { return now }
		useWhenUnhealthy := r.IntN(2) == 0
		// The sets have the same IDs, so one snapshot serves both.
		snap := randomSnapshot(r, carried, now, now)
		for step := range 40 {
			var g gatedOrigins
			admitted := g.gate(carried, snap, useWhenUnhealthy)
			var buf [8]candidate
			gateCands := rejudged.candidates(snap, now, nil, useWhenUnhealthy, buf[:0])
			if admitted != (len(gateCands) > 0) {
				t.Fatalf("round %d step %d: gate %v, rejudged %d candidates", round, step, admitted, len(gateCands))
			}
			now = now.Add(time.Duration(r.IntN(20)) * time.Second)
			if r.IntN(3) == 0 {
				snap = randomSnapshot(r, carried, now, now.Add(time.Duration(r.IntN(3))*time.Second))
			}
			if !admitted {
				continue
			}
			got := candidateKeys(g.first(carried, snap, useWhenUnhealthy, nil))
			want := candidateKeys(rejudged.candidates(snap, now, nil, useWhenUnhealthy, nil))
			if !slices.Equal(got, want) {
				t.Fatalf("round %d step %d: carried %v, rejudged %v", round, step, got, want)
			}
			for i := range carried.origins {
				// A ramp past its end that no pick observed since is as
				// steady as one a pick turned steady.
				view := func(st int64) int64 {
					if st > 0 && now.UnixNano()-st >= int64(time.Minute) {
						return rampSteady
					}
					return st
				}
				if a, b := view(carried.origins[i].ramp.state.Load()), view(rejudged.origins[i].ramp.state.Load()); a != b {
					t.Fatalf("round %d step %d: origin %d ramp %d, rejudged %d", round, step, i, a, b)
				}
			}
			now = now.Add(time.Duration(r.IntN(20)) * time.Second)
		}
	}
}

// Requests judge and pick while the health monitor publishes snapshots
// and judges panic mode: no data race on the cached judgement (run with
// -race), and a pick never takes an origin that neither the snapshot of
// its gate nor a later one admitted; with an eligible primary in every
// snapshot, the backup is never picked and no request is refused.
func TestReviewConcurrentPublishAndPick(t *testing.T) {
	gw, src, grp := reviewOrigins(t, "      load_balancing: least_connections\n      panic_threshold: 50\n      passive_health: {}\n")
	bv := gw.views["api"]
	chain := &originsGateLayer{useWhenUnhealthy: false,
		next: &balanceLayer{set: bv.rt.origins, next: answerLayer{}}}
	src.set(grp, []bool{true, true, true, true}, nil)

	stop := make(chan struct{})
	var monitor sync.WaitGroup
	monitor.Add(1)
	go func() {
		defer monitor.Done()
		r := rand.New(rand.NewPCG(3, 4))
		for {
			select {
			case <-stop:
				return
			default:
			}
			healthy := []bool{r.IntN(2) == 0, r.IntN(2) == 0, true, r.IntN(2) == 0}
			snap := &health.Snapshot{}
			for i, id := range grp.IDs {
				e := health.Backend{ID: id, Group: grp.Name, Weight: 1, Healthy: healthy[i], Backup: grp.Backups[i]}
				if i == 1 && r.IntN(2) == 0 {
					e.EjectedUntil = time.Now().Add(time.Duration(r.IntN(3)) * time.Millisecond)
				}
				e.Eligible, e.Reason = health.Eligibility(e, time.Now())
				snap.Backends = append(snap.Backends, e)
			}
			src.snap.Store(snap)
			gw.metrics.judgePanics(snap, time.Now())
		}
	}()
	var requests sync.WaitGroup
	errs := make(chan string, 8)
	for w := range 4 {
		requests.Add(1)
		go func() {
			defer requests.Done()
			up := &upstream{req: httptest.NewRequest(http.MethodGet, "/x", nil)}
			for range 500 {
				c := &call{g: gw, ctx: context.Background(), bv: bv, up: up}
				ex, gerr := chain.roundTrip(c)
				if gerr != nil {
					errs <- fmt.Sprintf("worker %d: %v", w, gerr)
					return
				}
				if c.dest.origin.host == "d.test" {
					errs <- fmt.Sprintf("worker %d: the backup was picked while c was eligible", w)
					return
				}
				ex.done()
			}
		}()
	}
	requests.Wait()
	close(stop)
	monitor.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	for _, o := range bv.rt.origins.origins {
		if n := o.inFlight.Load(); n != 0 {
			t.Errorf("%s: %d in flight after every request ended", o.name, n)
		}
	}
}
