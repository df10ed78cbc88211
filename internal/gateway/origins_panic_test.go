package gateway

import (
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
)

// staticHealth is a health source whose snapshot a test sets.
type staticHealth struct {
	snap atomic.Pointer[health.Snapshot]
}

func (s *staticHealth) Snapshot() *health.Snapshot { return s.snap.Load() }

// set publishes one entry per health-group target: healthy as given,
// state the admin state ("" ready).
func (s *staticHealth) set(g health.Group, healthy []bool, state []health.AdminState) {
	snap := &health.Snapshot{}
	for i, id := range g.IDs {
		e := health.Backend{ID: id, Group: g.Name, Weight: 1, Healthy: healthy[i], PanicThreshold: g.PanicThreshold}
		if g.Backups != nil {
			e.Backup = g.Backups[i]
		}
		if state != nil {
			e.Admin.State = state[i]
		}
		e.Eligible, e.Reason = health.Eligibility(e, time.Now())
		snap.Backends = append(snap.Backends, e)
	}
	s.snap.Store(snap)
}

func panicSet(threshold int, backups ...bool) *originSet {
	b := &config.Backend{BackendAttrs: config.BackendAttrs{LoadBalancing: config.BalanceRoundRobin}}
	for i, backup := range backups {
		b.Origins = append(b.Origins, config.OriginEntry{Origin: "http://127.0.0.1:" + string(rune('1'+i)) + "000", Backup: backup})
	}
	b.PanicThreshold = &threshold
	return newOriginSet("api", b, nil)
}

func candidateNames(cs []candidate) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.o.origin.hostPort())
	}
	return out
}

// Below the threshold the pick draws from every origin of the judged
// tier an operator has not taken out; at or above it, from the eligible
// ones only. A healthy backup tier comes before panic.
func TestOriginPanicCandidates(t *testing.T) {
	const (
		o1, o2, o3, o4 = "127.0.0.1:1000", "127.0.0.1:2000", "127.0.0.1:3000", "127.0.0.1:4000"
	)
	drain := health.AdminDrain
	for _, tt := range []struct {
		name      string
		threshold int
		backups   []bool
		healthy   []bool
		state     []health.AdminState
		want      []string
	}{
		{"off", 0, []bool{false, false, false, false}, []bool{true, false, false, false}, nil, []string{o1}},
		{"1 of 4 below 50", 50, []bool{false, false, false, false}, []bool{true, false, false, false}, nil, []string{o1, o2, o3, o4}},
		{"2 of 4 is not below 50", 50, []bool{false, false, false, false}, []bool{true, true, false, false}, nil, []string{o1, o2}},
		{"2 of 4 below 51", 51, []bool{false, false, false, false}, []bool{true, true, false, false}, nil, []string{o1, o2, o3, o4}},
		{"drained origin stays out and does not count", 51, []bool{false, false, false, false}, []bool{true, false, false, false},
			[]health.AdminState{"", "", health.AdminDrain, health.AdminDrain}, []string{o1, o2}},
		{"1 of 2 usable is not below 50", 50, []bool{false, false, false, false}, []bool{true, false, false, false},
			[]health.AdminState{"", drain, drain, ""}, []string{o1}},
		{"nothing eligible: every usable primary", 50, []bool{false, false, false, false}, []bool{false, false, false, false}, nil, []string{o1, o2, o3, o4}},
		{"healthy backup before panic", 50, []bool{false, false, true, true}, []bool{false, false, true, true}, nil, []string{o3, o4}},
		{"backup tier in panic", 50, []bool{false, false, true, true, true}, []bool{false, false, true, false, false}, nil, []string{o3, o4, "127.0.0.1:5000"}},
		{"primaries in panic, backups wait", 50, []bool{false, false, false, true}, []bool{true, false, false, true}, nil, []string{o1, o2, o3}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := panicSet(tt.threshold, tt.backups...)
			src := &staticHealth{}
			g := health.Group{Name: "gateway:api", PanicThreshold: tt.threshold, Backups: tt.backups}
			for _, o := range s.origins {
				g.IDs = append(g.IDs, o.id)
			}
			src.set(g, tt.healthy, tt.state)
			got := candidateNames(s.candidates(src.Snapshot(), time.Now(), nil, false, nil))
			if !slices.Equal(got, tt.want) {
				t.Errorf("candidates %v, want %v", got, tt.want)
			}
			// The status API judges the snapshot alike.
			st := health.GroupPanic(src.Snapshot(), "gateway:api", time.Now())
			if st.Panic != s.panic.state.active.Load() {
				t.Errorf("GroupPanic %+v, the gateway's panic %v", st, s.panic.state.active.Load())
			}
		})
	}
}

// Retries in panic skip the origins tried, like any retry.
func TestOriginPanicRetrySkipsTried(t *testing.T) {
	s := panicSet(50, false, false, false)
	src := &staticHealth{}
	g := health.Group{Name: "gateway:api", PanicThreshold: 50}
	for _, o := range s.origins {
		g.IDs = append(g.IDs, o.id)
	}
	src.set(g, []bool{true, false, false}, nil)
	got := candidateNames(s.candidates(src.Snapshot(), time.Now(), s.origins[:1], false, nil))
	if !slices.Equal(got, []string{"127.0.0.1:2000", "127.0.0.1:3000"}) {
		t.Errorf("candidates after the healthy one failed: %v", got)
	}
}

// Through the gateway: with 1 of 4 origins healthy and panic_threshold 50
// the requests go round all four (the unhealthy ones answer too: the
// checks may be wrong, which is the point of panic mode); the gauge says
// so and one WARN line is logged however many requests judge the panic.
// Without panic_threshold the one healthy origin takes them all.
func TestOriginPanicThroughGateway(t *testing.T) {
	for _, threshold := range []int{0, 50} {
		tr := &transcript{}
		a, b, c, d := tr.origin(t, "a", nil), tr.origin(t, "b", nil), tr.origin(t, "c", nil), tr.origin(t, "d", nil)
		block := "      beta_health:\n        interval: 1h\n"
		if threshold > 0 {
			block += "      panic_threshold: 50\n"
		}
		h := newHarness(t, originsYAML(block, a, b, c, d))
		g := h.gw.HealthGroups()[0]
		if g.PanicThreshold != threshold {
			t.Fatalf("health group panic threshold %d, want %d", g.PanicThreshold, threshold)
		}
		src := &staticHealth{}
		src.set(g, []bool{true, false, false, false}, nil)
		h.gw.SetHealth(src)
		if codes := h.sendN(t, "GET", paths(8)...); slices.ContainsFunc(codes, func(c int) bool { return c != 200 }) {
			t.Fatalf("codes %v", codes)
		}
		counts := tr.count()
		if threshold == 0 {
			if counts["a"] != 8 {
				t.Errorf("without panic: %v", counts)
			}
			if n := strings.Count(h.logs.String(), "panic mode"); n != 0 {
				t.Errorf("%d panic lines without panic_threshold", n)
			}
			continue
		}
		for _, name := range []string{"a", "b", "c", "d"} {
			if counts[name] != 2 {
				t.Errorf("in panic: %v, want 2 each", counts)
			}
		}
		if v := metricSum(t, h, "backline_gateway_origins_panic", "", ""); v != 1 {
			t.Errorf("panic gauge %v, want 1", v)
		}
		if v := metricSum(t, h, "backline_gateway_origins_panic_total", "", ""); v != 1 {
			t.Errorf("panic_total %v, want 1", v)
		}
		logs := h.logs.String()
		if n := strings.Count(logs, `"level":"WARN","msg":"gateway backend in panic mode`); n != 1 {
			t.Errorf("%d WARN lines, want 1:\n%s", n, logs)
		}
		if !strings.Contains(logs, `"backend":"api","tier":"primary","eligible":1,"usable":4,"panic_threshold":50`) {
			t.Errorf("WARN line lacks the counts:\n%s", logs)
		}

		// Two of four healthy: out of panic, the healthy two share.
		src.set(g, []bool{true, true, false, false}, nil)
		tr.mu.Lock()
		tr.lines = nil
		tr.mu.Unlock()
		h.sendN(t, "GET", paths(4)...)
		if counts := tr.count(); counts["a"] != 2 || counts["b"] != 2 {
			t.Errorf("after recovery: %v", counts)
		}
		if v := metricSum(t, h, "backline_gateway_origins_panic", "", ""); v != 0 {
			t.Errorf("panic gauge %v after recovery, want 0", v)
		}
		if !strings.Contains(h.logs.String(), "gateway backend left panic mode") {
			t.Errorf("no INFO line on leaving panic")
		}
		// Back in panic within panicLogEvery: counted, not logged again.
		src.set(g, []bool{true, false, false, false}, nil)
		h.sendN(t, "GET", "/again")
		if v := metricSum(t, h, "backline_gateway_origins_panic_total", "", ""); v != 2 {
			t.Errorf("panic_total %v, want 2", v)
		}
		if n := strings.Count(h.logs.String(), `"msg":"gateway backend in panic mode`); n != 1 {
			t.Errorf("%d WARN lines within panicLogEvery, want 1", n)
		}
	}
}
