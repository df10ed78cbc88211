package health

import (
	"context"
	"math"
	"testing"
	"time"
	"unsafe"

	"github.com/backline/backline/internal/probe"
)

var h0 = time.Date(2026, 12, 3, 6, 0, 0, 0, time.UTC)

func TestHistoryEmptyHasNoSummary(t *testing.T) {
	var h history
	if s := h.summary(); s != nil {
		t.Fatalf("summary of an empty history = %+v, want nil", s)
	}
	// A clock at the epoch (some tests use one) records nothing rather
	// than colliding with the "never used" slot 0.
	h.add(time.Unix(5, 0), true, true, true, time.Millisecond)
	if s := h.summary(); s != nil {
		t.Fatalf("summary after an epoch-time check = %+v, want nil", s)
	}
}

func TestHistoryAggregatesMinutes(t *testing.T) {
	var h history
	// Minute 0: three checks, one failing (a 5 s timeout that must not
	// count as latency), verdict healthy twice.
	h.add(h0, true, true, true, 2*time.Millisecond)
	h.add(h0.Add(10*time.Second), false, true, false, 5*time.Second)
	h.add(h0.Add(20*time.Second), true, false, true, 4*time.Millisecond)
	// Minute 2: one check; minute 1 has none.
	h.add(h0.Add(2*time.Minute+5*time.Second), true, true, true, 9*time.Millisecond)

	s := h.summary()
	if s == nil {
		t.Fatal("no summary")
	}
	if !s.End.Equal(h0.Add(2*time.Minute + 5*time.Second)) {
		t.Errorf("End = %v", s.End)
	}
	last, mid, first := s.Minutes[59], s.Minutes[58], s.Minutes[57]
	if first.Checks != 3 || first.Fails != 1 || first.Up != 2 {
		t.Errorf("minute 0 = %+v, want 3 checks, 1 failure, 2 up", first)
	}
	if first.Min != 2*time.Millisecond || first.Max != 4*time.Millisecond || first.Avg != 3*time.Millisecond {
		t.Errorf("minute 0 latency min/avg/max = %v/%v/%v, want 2ms/3ms/4ms", first.Min, first.Avg, first.Max)
	}
	if mid.Checks != 0 {
		t.Errorf("minute 1 = %+v, want empty", mid)
	}
	if last.Checks != 1 || last.Avg != 9*time.Millisecond {
		t.Errorf("minute 2 = %+v", last)
	}
	if s.Checks1h != 4 {
		t.Errorf("1h: %d checks, want 4", s.Checks1h)
	}
	for i := range 57 {
		if s.Minutes[i].Checks != 0 {
			t.Fatalf("minute %d before the first check has data: %+v", i, s.Minutes[i])
		}
	}
}

// TestHistoryForgetsOldBuckets: after the ring wraps, a bucket from an hour
// ago must not count as the current minute.
func TestHistoryForgetsOldBuckets(t *testing.T) {
	var h history
	h.add(h0, false, false, false, 0) // down, at minute 0 of hour 0
	h.add(h0.Add(time.Hour), true, true, true, time.Millisecond)
	if s := h.summary(); s.Checks1h != 1 || s.Minutes[59].Up != 1 {
		t.Errorf("1h: %d checks; want only the new check", s.Checks1h)
	}
	// A long silence: nothing of the old minutes may show up.
	h.add(h0.Add(50*time.Hour+17*time.Minute), true, true, true, time.Millisecond)
	if s := h.summary(); s.Checks1h != 1 {
		t.Errorf("after a silence: 1h %d checks; want 1", s.Checks1h)
	}
}

func TestHistoryClockStepsBack(t *testing.T) {
	var h history
	h.add(h0.Add(time.Hour), true, true, true, time.Millisecond)
	h.add(h0, false, false, false, 0) // the wall clock went back an hour
	s := h.summary()
	if s.Checks1h != 2 || s.Minutes[59].Checks != 2 {
		t.Errorf("a check from the past must land in the newest minute: %+v", s.Minutes[59])
	}
}

func TestHistorySaturates(t *testing.T) {
	var h history
	for range math.MaxUint16 + 10 {
		h.add(h0, true, true, true, time.Hour*2) // also beyond uint32 microseconds
	}
	m := h.summary().Minutes[59]
	if m.Checks != math.MaxUint16 || m.Up != math.MaxUint16 {
		t.Errorf("counters wrapped: %+v", m)
	}
	if want := time.Duration(math.MaxUint32) * time.Microsecond; m.Max != want || m.Avg != want {
		t.Errorf("latency not clamped: %+v", m)
	}
}

// TestHistorySize reports the memory per backend (go test -v -run Size).
func TestHistorySize(t *testing.T) {
	ring := unsafe.Sizeof(history{})
	summary := unsafe.Sizeof(HistorySummary{})
	t.Logf("history ring: %d bytes per backend (%.1f MB at 1,000 backends); summary per published snapshot: %d bytes",
		ring, float64(ring)*1000/1e6, summary)
	if ring > 4096 {
		t.Errorf("history ring is %d bytes per backend; it was meant to stay near 2 KB", ring)
	}
}

// TestHistoryThroughTheEngine: rounds record history and snapshots carry
// it; latency comes from the deep check of a deep-checked target.
func TestHistoryThroughTheEngine(t *testing.T) {
	now := h0
	checker := checkerFunc(func(_ context.Context, tg *probe.Target, phase probe.Phase) probe.Result {
		d := time.Millisecond
		if phase == probe.PhaseDeep {
			d = 7 * time.Millisecond
		}
		return probe.Result{Phase: phase, OK: tg.Name != "down", Duration: d, Err: errIf(tg.Name == "down")}
	})
	g := mailGroup(mailTarget("deep", 1, true), mailTarget("down", 2, false))
	g.ConnectInterval, g.DeepInterval = 20*time.Millisecond, 20*time.Millisecond
	h := startEngine(t, []Group{g}, checker, Options{Now: func() time.Time { return now }})
	s := h.rounds(t, 2)
	deep := backendByName(t, s, "deep")
	if deep.History == nil || deep.History.Checks1h < 2 || deep.History.Minutes[59].Up < 2 ||
		deep.History.Minutes[59].Avg != 7*time.Millisecond {
		t.Errorf("deep target history: %+v", deep.History)
	}
	down := backendByName(t, s, "down")
	if down.History == nil || down.History.Minutes[59].Up != 0 || down.History.Minutes[59].Fails < 2 {
		t.Errorf("failing target history: %+v", down.History)
	}
}

func errIf(b bool) error {
	if b {
		return errTestRefused
	}
	return nil
}

// BenchmarkHistorySummary1000 is the history's share of one publish at
// 1,000 backends: a full hour of buckets each.
func BenchmarkHistorySummary1000(b *testing.B) {
	hs := make([]history, 1000)
	for i := range hs {
		for m := range 24 * 60 {
			hs[i].add(h0.Add(time.Duration(m)*time.Minute), m%7 != 0, true, true, time.Millisecond)
		}
	}
	for b.Loop() {
		for i := range hs {
			_ = hs[i].summary()
		}
	}
}

// TestHistorySurvivesReconfigure: a reload keeps a backend's history (the
// registry adopts its state) even when its check settings changed.
func TestHistorySurvivesReconfigure(t *testing.T) {
	now := h0
	g := mailGroup(mailTarget("keep", 1, false))
	h := startEngine(t, []Group{g}, &scriptChecker{}, Options{Now: func() time.Time { return now }})
	h.next(t)
	before, _ := findBackend(h.e.Snapshot(), "keep")
	if before.History == nil || before.History.Checks1h != 1 {
		t.Fatalf("before: %+v", before.History)
	}
	changed := mailTarget("keep", 1, false)
	changed.ConnectTimeout = 3 * time.Second
	if err := h.e.Reconfigure([]Group{mailGroup(changed, mailTarget("new", 2, false))}); err != nil {
		t.Fatal(err)
	}
	// The reload's own round may or may not have run yet: either way the
	// check from before is still counted.
	after, _ := findBackend(h.e.Snapshot(), "keep")
	if after.History == nil || after.History.Checks1h < 1 {
		t.Errorf("history lost on reconfigure: %+v", after.History)
	}
}
