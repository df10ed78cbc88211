package gateway

import (
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

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

// seriesValue is the value of name's series for backend in reg, and
// whether there is one.
func seriesValue(t *testing.T, reg *prometheus.Registry, name, backend string) (float64, bool) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "backend" && l.GetValue() == backend {
					if g := m.GetGauge(); g != nil {
						return g.GetValue(), true
					}
					return m.GetCounter().GetValue(), true
				}
			}
		}
	}
	return 0, false
}

// Bug: the panic state belonged to one configuration. Building the next
// one (a reload, even one refused for an error elsewhere) set the shared
// gauge to 0 while the running gateway was still in panic, and a refused
// reload left it at 0 for as long as that panic lasted; an accepted
// reload entered the same panic again: panic_total counted it twice and a
// second WARN bypassed the 30 s limit. Removing panic_threshold during a
// panic left the gauge at 1 for good. The state now outlives a reload, as
// slow start ramps do, and a backend without panic_threshold loses its
// series once the old configuration is gone.
func TestReviewPanicSurvivesReload(t *testing.T) {
	tr := &transcript{}
	a, b := tr.origin(t, "a", nil), tr.origin(t, "b", nil)
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	withPanic := originsYAML("      beta_health:\n        interval: 1h\n      panic_threshold: 50\n", a, b)
	build := func(yml string) (*Gateway, error) {
		return New(Options{Config: parseConfig(t, yml), Logger: logger, Metrics: m})
	}
	send := func(g *Gateway) {
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
		if rec.Code != 200 {
			t.Fatalf("status %d", rec.Code)
		}
	}
	src := &staticHealth{}
	first, err := build(withPanic)
	if err != nil {
		t.Fatal(err)
	}
	first.Activate()
	defer first.Close()
	g := first.HealthGroups()[0]
	src.set(g, []bool{false, false}, nil)
	first.SetHealth(src)
	send(first)
	if v, _ := seriesValue(t, reg, "backline_gateway_origins_panic", "api"); v != 1 {
		t.Fatalf("panic gauge %v, want 1", v)
	}

	// A refused reload changes nothing.
	refused := withPanic + "    - path: /y\n      set_request_headers:\n        X-A: ${env.BACKLINE_TEST_NOT_SET}\n      proxy:\n        backend: api\n"
	if _, err := build(refused); err == nil {
		t.Fatal("the broken configuration was accepted")
	}
	if v, _ := seriesValue(t, reg, "backline_gateway_origins_panic", "api"); v != 1 {
		t.Errorf("after a refused reload the panic gauge is %v, want 1", v)
	}
	send(first)
	if v, _ := seriesValue(t, reg, "backline_gateway_origins_panic", "api"); v != 1 {
		t.Errorf("the running gateway, still in panic, shows %v", v)
	}

	// An accepted reload keeps the panic: one panic, one WARN.
	second, err := build(withPanic)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if v, _ := seriesValue(t, reg, "backline_gateway_origins_panic", "api"); v != 1 {
		t.Errorf("while the reload is built the panic gauge is %v, want 1", v)
	}
	second.SetHealth(src)
	second.Activate()
	send(second)
	m.ForgetUnused(first)
	if v, _ := seriesValue(t, reg, "backline_gateway_origins_panic_total", "api"); v != 1 {
		t.Errorf("panic_total %v after a reload during one panic, want 1", v)
	}
	if n := strings.Count(logs.String(), `"msg":"gateway backend in panic mode`); n != 1 {
		t.Errorf("%d WARN lines for one panic across a reload, want 1:\n%s", n, logs.String())
	}

	// panic_threshold removed during the panic: no stale series.
	third, err := build(originsYAML("      beta_health:\n        interval: 1h\n", a, b))
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	third.SetHealth(src)
	third.Activate()
	m.ForgetUnused(second)
	if v, ok := seriesValue(t, reg, "backline_gateway_origins_panic", "api"); ok {
		t.Errorf("panic_threshold removed: the panic gauge is still there (%v)", v)
	}

	// Set again later: a fresh start at 0 until a request judges it.
	fourth, err := build(withPanic)
	if err != nil {
		t.Fatal(err)
	}
	defer fourth.Close()
	src.set(fourth.HealthGroups()[0], []bool{true, true}, nil)
	fourth.SetHealth(src)
	fourth.Activate()
	m.ForgetUnused(third)
	send(fourth)
	if v, ok := seriesValue(t, reg, "backline_gateway_origins_panic", "api"); !ok || v != 0 {
		t.Errorf("panic_threshold set again, all healthy: gauge %v (present %v), want 0", v, ok)
	}
}

// Bug: a panic entered again within panicLogEvery of the last WARN was
// not logged at all, however long it then lasted, while the INFO line of
// the panic before said the backend had left panic mode: the log's last
// word was wrong for as long as the new panic held. A held-back WARN is
// written by the first request after the 30 s, if the panic still holds;
// a short flap in between stays silent both ways.
func TestReviewPanicHeldWarnIsWrittenLater(t *testing.T) {
	logs := &logBuffer{}
	s := panicSet(50, false, false)
	s.watchPanic(slog.New(slog.NewJSONHandler(logs, nil)), newTestMetrics(t))
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	in := health.PanicState{Threshold: 50, Panic: true, PanicCount: health.PanicCount{Eligible: 0, Usable: 2}}
	out := health.PanicState{Threshold: 50, PanicCount: health.PanicCount{Eligible: 2, Usable: 2}}
	warns := func() int { return strings.Count(logs.String(), `"msg":"gateway backend in panic mode`) }
	infos := func() int { return strings.Count(logs.String(), `"msg":"gateway backend left panic mode`) }

	s.panic.note("api", in, t0)
	s.panic.note("api", out, t0.Add(time.Second))
	if warns() != 1 || infos() != 1 {
		t.Fatalf("first panic: %d WARN, %d INFO", warns(), infos())
	}
	// A short flap within the 30 s: silent both ways.
	s.panic.note("api", in, t0.Add(2*time.Second))
	s.panic.note("api", out, t0.Add(3*time.Second))
	s.panic.note("api", out, t0.Add(time.Minute))
	if warns() != 1 || infos() != 1 {
		t.Errorf("short flap: %d WARN, %d INFO, want 1 and 1", warns(), infos())
	}
	// A panic within the 30 s that lasts: its WARN comes once they passed.
	s.panic.note("api", in, t0.Add(time.Minute+time.Second))
	if warns() != 2 {
		t.Fatalf("panic after the window: %d WARN", warns())
	}
	s.panic.note("api", out, t0.Add(time.Minute+2*time.Second))
	s.panic.note("api", in, t0.Add(time.Minute+3*time.Second))
	s.panic.note("api", in, t0.Add(time.Minute+10*time.Second))
	if warns() != 2 {
		t.Errorf("held WARN written early: %d", warns())
	}
	for i := 0; i < 3; i++ {
		s.panic.note("api", in, t0.Add(time.Minute+31*time.Second+time.Duration(i)*time.Second))
	}
	if warns() != 3 {
		t.Errorf("a panic that outlasts the window: %d WARN lines, want 3:\n%s", warns(), logs.String())
	}
	s.panic.note("api", out, t0.Add(2*time.Minute))
	if infos() != 3 {
		t.Errorf("its end: %d INFO lines, want 3", infos())
	}
}

// Bug: a flip's gauge update ran after its compare-and-swap without any
// order between flips: of two requests judging the panic's start and end
// at once, the first could set the gauge last, leaving it at 1 while the
// backend was out of panic, and nothing set it again until the next
// panic. The gauge now follows the state in the order of the flips.
func TestReviewPanicGaugeFollowsLastFlip(t *testing.T) {
	m := newTestMetrics(t)
	s := panicSet(50, false, false)
	s.watchPanic(slog.New(slog.DiscardHandler), m)
	in := health.PanicState{Threshold: 50, Panic: true, PanicCount: health.PanicCount{Usable: 2}}
	out := health.PanicState{Threshold: 50, PanicCount: health.PanicCount{Eligible: 2, Usable: 2}}
	now := time.Now()
	for round := 0; round < 200; round++ {
		var wg sync.WaitGroup
		for i := 0; i < 4; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := 0; k < 50; k++ {
					s.panic.note("api", in, now)
					s.panic.note("api", out, now)
				}
			}()
		}
		wg.Wait()
		s.panic.note("api", out, now)
		if v := gaugeValue(t, s.panic.gauge); v != 0 {
			t.Fatalf("round %d: out of panic, the gauge says %v", round, v)
		}
	}
}

func newTestMetrics(t *testing.T) *metrics {
	t.Helper()
	m, err := newMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func gaugeValue(t *testing.T, g prometheus.Gauge) float64 {
	t.Helper()
	var m dto.Metric
	if err := g.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetGauge().GetValue()
}

// Checked, no bug: under a hash policy panic moves only the keys whose
// own origin it lets back in. In panic every key goes where it goes with
// all origins healthy; out of panic, the keys of eligible origins stay.
func TestReviewPanicHashMapping(t *testing.T) {
	b := &config.Backend{BackendAttrs: config.BackendAttrs{LoadBalancing: config.BalanceHeaderHash, HashKey: "X-User"}}
	for i := 0; i < 4; i++ {
		b.Origins = append(b.Origins, config.OriginEntry{Origin: "http://127.0.0.1:" + string(rune('1'+i)) + "000"})
	}
	threshold := 50
	b.PanicThreshold = &threshold
	s := newOriginSet("api", b, nil)
	g := health.Group{Name: "gateway:api", PanicThreshold: threshold}
	for _, o := range s.origins {
		g.IDs = append(g.IDs, o.id)
	}
	src := &staticHealth{}
	now := time.Now()
	mapping := func() []string {
		var out []string
		cands := s.candidates(src.Snapshot(), now, nil, false, nil)
		for k := uint64(0); k < 400; k++ {
			out = append(out, rendezvousPicker{}.pick(s, cands, requestKey{hash: mix64(k), ok: true}).origin.hostPort())
		}
		return out
	}
	src.set(g, []bool{true, true, true, true}, nil)
	healthy := mapping()
	src.set(g, []bool{true, false, false, false}, nil)
	if got := mapping(); !slices.Equal(got, healthy) {
		t.Errorf("in panic the keys do not go where they go with every origin healthy")
	}
	src.set(g, []bool{true, true, false, false}, nil)
	for k, o := range mapping() {
		if (healthy[k] == "127.0.0.1:1000" || healthy[k] == "127.0.0.1:2000") && o != healthy[k] {
			t.Fatalf("key %d of an eligible origin moved: %s -> %s", k, healthy[k], o)
		}
	}
}

// Checked, no bug: an origin at weight 0 that is also unhealthy (its
// reason is then "unhealthy", not "weight_zero") neither counts nor is
// admitted in panic; nor is a forced-down one that is healthy.
func TestReviewPanicWeightZeroUnhealthy(t *testing.T) {
	s := panicSet(50, false, false, false, false)
	snap := &health.Snapshot{}
	for i, o := range s.origins {
		e := health.Backend{ID: o.id, Group: "gateway:api", Weight: 1, Healthy: i == 0, PanicThreshold: 50}
		switch i {
		case 1:
			e.Weight = 0
		case 2:
			e.Healthy = true
			e.Admin.Health = health.HealthDown
		}
		e.Eligible, e.Reason = health.Eligibility(e, time.Now())
		snap.Backends = append(snap.Backends, e)
	}
	// Usable: origins 1 (eligible) and 4 (unhealthy); 1 of 2 is not below 50.
	if got := candidateNames(s.candidates(snap, time.Now(), nil, false, nil)); !slices.Equal(got, []string{"127.0.0.1:1000"}) {
		t.Errorf("candidates %v", got)
	}
	if st := health.GroupPanic(snap, "gateway:api", time.Now()); st.Panic || st.Usable != 2 {
		t.Errorf("status API judgement %+v", st)
	}
}
