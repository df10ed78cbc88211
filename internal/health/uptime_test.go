package health

import (
	"context"
	"math"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/backline/backline/internal/probe"
	"github.com/backline/backline/internal/state"
)

// noteAt records checks on a ring: one per entry, at h0 plus the offset,
// with the verdict it led to.
type check struct {
	at time.Duration
	up bool
}

func noteAll(r *uptimeRing, maxGap time.Duration, checks ...check) {
	for _, c := range checks {
		r.note(h0.Add(c.at), c.up, maxGap)
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// TestUptimeFilesTimeUnderTheVerdictInForce: the time between two checks
// belongs to the verdict the earlier one led to.
func TestUptimeFilesTimeUnderTheVerdictInForce(t *testing.T) {
	var r uptimeRing
	noteAll(&r, time.Minute,
		check{0, true}, check{10 * time.Second, false}, check{20 * time.Second, true}, check{30 * time.Second, true})
	s := r.summary()
	if s.Hour.Checked != 30*time.Second || !near(s.Hour.Ratio, 2.0/3) {
		t.Fatalf("hour = %+v, want 30s checked, 2/3 up", s.Hour)
	}
	if s.Day != s.Hour || s.Week != s.Hour {
		t.Fatalf("day %+v, week %+v: want the hour's figures", s.Day, s.Week)
	}
}

// TestUptimeFastRechecksDoNotWeighMore: ten checks in the ten down seconds
// weigh as much as one check would.
func TestUptimeFastRechecksDoNotWeighMore(t *testing.T) {
	var r uptimeRing
	r.note(h0, true, time.Minute)
	r.note(h0.Add(50*time.Second), false, time.Minute)
	for i := 1; i <= 10; i++ {
		r.note(h0.Add(50*time.Second+time.Duration(i)*time.Second), i == 10, time.Minute)
	}
	if s := r.summary().Hour; s.Checked != time.Minute || !near(s.Ratio, 50.0/60) {
		t.Fatalf("hour = %+v, want 1m checked, 50/60 up", s)
	}
}

// TestUptimeGapPastStaleIsUnchecked: checks that stop (a paused backend, a
// stopped daemon) count only up to the stale time.
func TestUptimeGapPastStaleIsUnchecked(t *testing.T) {
	var r uptimeRing
	noteAll(&r, 30*time.Second, check{0, false}, check{10 * time.Minute, true}, check{10*time.Minute + 30*time.Second, true})
	if s := r.summary().Hour; s.Checked != time.Minute || !near(s.Ratio, 0.5) {
		t.Fatalf("hour = %+v, want 30s down + 30s up", s)
	}
}

func TestUptimeClockStepsBack(t *testing.T) {
	var r uptimeRing
	noteAll(&r, time.Hour, check{time.Hour, true}, check{0, false}, check{time.Hour + 10*time.Second, true})
	// The step back files nothing; its verdict (down) stands until the
	// next check.
	if s := r.summary().Hour; s.Checked != 10*time.Second || s.Ratio != 0 {
		t.Fatalf("hour = %+v, want 10s down", s)
	}
	var epoch uptimeRing
	epoch.note(time.Unix(5, 0), true, time.Hour)
	epoch.note(time.Unix(50, 0), true, time.Hour)
	if s := epoch.summary(); s.Week.Checked != 0 {
		t.Fatalf("a clock near the epoch recorded %+v", s)
	}
}

// TestUptimeWindows: a week of checks every minute, down for one hour two
// days ago and for ten minutes half an hour ago.
func TestUptimeWindows(t *testing.T) {
	var r uptimeRing
	week := 7 * 24 * time.Hour
	start := h0.Add(-week)
	for at := time.Duration(0); at <= week; at += time.Minute {
		now := start.Add(at)
		downAgo := h0.Sub(now)
		down := (downAgo > 48*time.Hour && downAgo <= 49*time.Hour) || (downAgo > 30*time.Minute && downAgo <= 40*time.Minute)
		r.note(now, !down, 5*time.Minute)
	}
	s := r.summary()
	if s.Hour.Checked != time.Hour || !near(s.Hour.Ratio, 50.0/60) {
		t.Errorf("hour = %+v, want 50 of 60 minutes", s.Hour)
	}
	if s.Day.Checked != 24*time.Hour || !near(s.Day.Ratio, 1-10.0/(24*60)) {
		t.Errorf("day = %+v, want all but 10 minutes", s.Day)
	}
	if s.Week.Checked != week || !near(s.Week.Ratio, 1-70.0/(7*24*60)) {
		t.Errorf("week = %+v, want all but 70 minutes", s.Week)
	}
	// Half an hour later without checks: the windows end at the newest
	// check, so nothing moves until the next one.
	if r.summary() != s {
		t.Error("summary changed without a check")
	}
	// The oldest hour of the day window counts with its share inside:
	// 30 minutes on, half of the hour that held the 49-hour-old outage is
	// still out of the day, the window moves minute by minute.
	for at := time.Minute; at <= 30*time.Minute; at += time.Minute {
		r.note(h0.Add(at), true, 5*time.Minute)
	}
	if d := r.summary().Day; d.Checked != 24*time.Hour || !near(d.Ratio, 1-10.0/(24*60)) {
		t.Errorf("day after 30 more minutes = %+v", d)
	}
}

// TestUptimeRingsWrap: after a silence longer than a ring, old cells do
// not count as new ones.
func TestUptimeRingsWrap(t *testing.T) {
	var r uptimeRing
	noteAll(&r, time.Hour, check{0, false}, check{30 * time.Minute, true})
	later := 8*24*time.Hour + 17*time.Minute
	noteAll(&r, time.Hour, check{later, true}, check{later + time.Minute, true})
	s := r.summary()
	if s.Week.Checked != time.Minute || s.Week.Ratio != 1 || s.Hour.Checked != time.Minute {
		t.Fatalf("after 8 days: %+v, want only the last minute", s)
	}
}

// TestUptimeCollectAndMerge: what one ring saves, another loads to the
// same figures; collect hands each change once; a failed save is handed
// again; merge keeps the view with more checked time.
func TestUptimeCollectAndMerge(t *testing.T) {
	var a uptimeRing
	noteAll(&a, time.Hour, check{0, true}, check{90 * time.Second, false}, check{3 * time.Minute, true})
	buckets, d := a.collect(nil)
	var minutes, hours int
	for _, b := range buckets {
		if b.Span == time.Minute {
			minutes++
		} else {
			hours++
		}
	}
	if minutes != 3 || hours != 1 {
		t.Fatalf("collected %d minutes, %d hours: %+v", minutes, hours, buckets)
	}
	if again, _ := a.collect(nil); len(again) != 0 {
		t.Fatalf("second collect = %+v, want nothing new", again)
	}
	a.redirty(d)
	if again, _ := a.collect(nil); len(again) != len(buckets) {
		t.Fatalf("after redirty: %d buckets, want %d", len(again), len(buckets))
	}

	var b uptimeRing
	b.merge("imap-1", buckets, h0.Add(3*time.Minute))
	if got, want := b.summary(), a.summary(); got != want {
		t.Fatalf("loaded ring = %+v, want %+v", got, want)
	}
	// A ring that counted more of a minute keeps its own.
	var c uptimeRing
	noteAll(&c, time.Hour, check{0, true}, check{60 * time.Second, true})
	c.merge("imap-1", buckets, h0.Add(3*time.Minute))
	var minute0 uptimeCell
	for _, cell := range c.minutes {
		if cell.slot == int32(h0.Unix()/60) {
			minute0 = cell
		}
	}
	if minute0.up != 60_000 || minute0.down != 0 {
		t.Fatalf("minute 0 after merge = %+v, want the ring's own full minute up", minute0)
	}
	// Buckets outside the rings (too old, from the future) are ignored.
	var d2 uptimeRing
	d2.merge("x", []state.UptimeBucket{
		{Start: h0.Add(-8 * 24 * time.Hour), Span: time.Hour, Up: time.Hour},
		{Start: h0.Add(time.Hour), Span: time.Hour, Up: time.Hour},
	}, h0)
	if s := d2.summary(); s.Week.Checked != 0 {
		t.Fatalf("out-of-ring buckets counted: %+v", s)
	}
}

// TestUptimeSize reports the memory per backend (go test -v -run Size).
func TestUptimeSize(t *testing.T) {
	ring := unsafe.Sizeof(uptimeRing{})
	t.Logf("uptime ring: %d bytes per backend (%.1f MB at 1,000 backends)", ring, float64(ring)*1000/1e6)
	if ring > 3*1024 {
		t.Errorf("uptime ring is %d bytes per backend; it was meant to stay under 3 KB", ring)
	}
}

// BenchmarkUptimeNote is recording one check: a check every 2 s.
func BenchmarkUptimeNote(b *testing.B) {
	var r uptimeRing
	now := h0
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(2 * time.Second)
		r.note(now, true, time.Minute)
	}
}

// BenchmarkUptimeSummary is a backend's share of one publish after a
// check (the summary is cached until the next one).
func BenchmarkUptimeSummary(b *testing.B) {
	var r uptimeRing
	for m := range 7 * 24 * 60 {
		r.note(h0.Add(time.Duration(m)*time.Minute), m%7 != 0, 5*time.Minute)
	}
	now := h0.Add(7 * 24 * time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(2 * time.Second)
		r.note(now, true, time.Minute)
		_ = r.summary()
	}
}

// engineClock is a test clock the engine and a test share.
type engineClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *engineClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *engineClock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// newUptimeEngine is an engine that never runs: the test notes checks on
// its states itself and syncs by hand.
func newUptimeEngine(t *testing.T, clock *engineClock, store state.UptimeStore, targets ...*probe.Target) *Engine {
	t.Helper()
	e, err := New([]Group{mailGroup(targets...)}, &scriptChecker{}, Options{Now: clock.now})
	if err != nil {
		t.Fatal(err)
	}
	if store != nil {
		if err := e.UseUptimeStore(store); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func ringOf(t *testing.T, e *Engine, id string) *uptimeRing {
	t.Helper()
	s := e.gen.Load().byID[id]
	if s == nil {
		t.Fatalf("no backend %q", id)
	}
	return &s.uptime
}

// TestUptimeSurvivesRestart: an engine on the same store (Redis in
// production; the memory store and miniredis here) finds the week the
// previous one saved, and a backend removed by a reload and added back
// gets its history back.
func TestUptimeSurvivesRestart(t *testing.T) {
	for name, open := range map[string]func(t *testing.T, clock *engineClock) state.UptimeStore{
		"memory": func(_ *testing.T, clock *engineClock) state.UptimeStore {
			return state.NewMemoryUptimeStore(clock.now)
		},
		"miniredis": func(t *testing.T, clock *engineClock) state.UptimeStore {
			m := miniredis.RunT(t)
			m.SetTime(clock.now())
			c := redis.NewClient(&redis.Options{Addr: m.Addr()})
			t.Cleanup(func() { c.Close() })
			s := state.NewRedisUptimeStore(c, "backline:")
			s.OnCorrupt = func(key string, err error) { t.Errorf("corrupt %s: %v", key, err) }
			return s
		},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			clock := &engineClock{t: h0}
			store := open(t, clock)
			a, b := mailTarget("a", 1, false), mailTarget("b", 2, false)
			e1 := newUptimeEngine(t, clock, store, a, b)
			ringA := ringOf(t, e1, "a")
			for i := range 10 {
				ringA.note(h0.Add(time.Duration(i)*20*time.Second), i < 5, time.Minute)
			}
			ringOf(t, e1, "b").note(h0, true, time.Minute)
			ringOf(t, e1, "b").note(h0.Add(time.Minute), true, time.Minute)
			clock.set(h0.Add(3 * time.Minute))
			e1.syncUptime(ctx)
			want := ringA.summary()

			e2 := newUptimeEngine(t, clock, store, a, b)
			e2.syncUptime(ctx)
			got := ringOf(t, e2, "a").summary()
			if got.Week != want.Week || got.Day != want.Day {
				t.Fatalf("after a restart: %+v, want %+v", got, want)
			}

			// Reload without b, then with it again: its minute comes back
			// from the store.
			if err := e2.Reconfigure([]Group{mailGroup(a)}); err != nil {
				t.Fatal(err)
			}
			e2.syncUptime(ctx)
			if err := e2.Reconfigure([]Group{mailGroup(a, b)}); err != nil {
				t.Fatal(err)
			}
			e2.syncUptime(ctx)
			if got := ringOf(t, e2, "b").summary().Week; got.Checked != time.Minute || got.Ratio != 1 {
				t.Fatalf("b after removal and return: %+v", got)
			}
		})
	}
}

// TestUptimeSavesCounting: an engine that loaded a bucket and went on
// counting saves the sum, and a second instance's smaller view of the
// same minute does not replace it (two instances never double count).
func TestUptimeSavesCounting(t *testing.T) {
	ctx := context.Background()
	clock := &engineClock{t: h0.Add(30 * time.Second)}
	store := state.NewMemoryUptimeStore(clock.now)
	target := mailTarget("a", 1, false)
	one := newUptimeEngine(t, clock, store, target)
	two := newUptimeEngine(t, clock, store, target)
	// Both instances see the same checks of the first 30 seconds.
	for _, e := range []*Engine{one, two} {
		noteAll(ringOf(t, e, "a"), time.Minute, check{0, true}, check{30 * time.Second, true})
	}
	one.syncUptime(ctx)
	two.syncUptime(ctx)
	got, _ := store.Load(ctx, []string{"a"})
	for _, b := range got["a"] {
		if b.Checked() != 30*time.Second {
			t.Fatalf("bucket %+v: want 30s, not the two views added", b)
		}
	}
	// One goes on to a full minute; the other's stale view stays out.
	noteAll(ringOf(t, one, "a"), time.Minute, check{time.Minute, true})
	clock.set(h0.Add(time.Minute))
	one.syncUptime(ctx)
	two.syncUptime(ctx)
	got, _ = store.Load(ctx, []string{"a"})
	for _, b := range got["a"] {
		if b.Span == time.Minute && b.Checked() != time.Minute {
			t.Fatalf("minute bucket %+v: want the full minute", b)
		}
	}
}

// failingUptimeStore fails every call until told otherwise.
type failingUptimeStore struct {
	state.UptimeStore
	mu   sync.Mutex
	fail bool
}

func (f *failingUptimeStore) failing() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fail
}

func (f *failingUptimeStore) Save(ctx context.Context, r []state.UptimeRecord) error {
	if f.failing() {
		return errTestRefused
	}
	return f.UptimeStore.Save(ctx, r)
}

func (f *failingUptimeStore) Load(ctx context.Context, ids []string) (map[string][]state.UptimeBucket, error) {
	if f.failing() {
		return nil, errTestRefused
	}
	return f.UptimeStore.Load(ctx, ids)
}

// TestUptimeStoreDown: with the store down the engine counts locally and
// saves everything once it answers.
func TestUptimeStoreDown(t *testing.T) {
	ctx := context.Background()
	clock := &engineClock{t: h0.Add(2 * time.Minute)}
	mem := state.NewMemoryUptimeStore(clock.now)
	store := &failingUptimeStore{UptimeStore: mem, fail: true}
	e := newUptimeEngine(t, clock, store, mailTarget("a", 1, false))
	noteAll(ringOf(t, e, "a"), time.Hour, check{0, true}, check{2 * time.Minute, true})
	e.syncUptime(ctx)
	e.syncUptime(ctx)
	if !e.uptime.failing {
		t.Fatal("store failures not noted")
	}
	store.mu.Lock()
	store.fail = false
	store.mu.Unlock()
	e.syncUptime(ctx)
	got, _ := mem.Load(ctx, []string{"a"})
	var checked time.Duration
	for _, b := range got["a"] {
		if b.Span == time.Minute {
			checked += b.Checked()
		}
	}
	if checked != 2*time.Minute || e.uptime.failing {
		t.Fatalf("saved %v of minutes (failing %v), want the 2 minutes counted while the store was down", checked, e.uptime.failing)
	}
}

// TestUptimeThroughTheEngine: running rounds fill the snapshot's uptime,
// and a stop saves it.
func TestUptimeThroughTheEngine(t *testing.T) {
	clock := &engineClock{t: h0}
	step := func() time.Time {
		clock.mu.Lock()
		defer clock.mu.Unlock()
		clock.t = clock.t.Add(time.Second)
		return clock.t
	}
	store := state.NewMemoryUptimeStore(clock.now)
	g := mailGroup(mailTarget("up", 1, false))
	g.ConnectInterval, g.DeepInterval = 20*time.Millisecond, 20*time.Millisecond
	reg := prometheus.NewPedanticRegistry()
	e, err := New([]Group{g}, &scriptChecker{}, Options{Now: step, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.UseUptimeStore(store); err != nil {
		t.Fatal(err)
	}
	h := startEngineFrom(t, e)
	s := h.rounds(t, 3)
	up := backendByName(t, s, "up")
	if up.Uptime.Hour.Checked <= 0 || up.Uptime.Hour.Ratio != 1 || up.Uptime.Week != up.Uptime.Hour {
		t.Fatalf("uptime in the snapshot: %+v", up.Uptime)
	}
	for _, w := range UptimeWindows {
		if v := metricValue(t, reg, "backline_backend_uptime_ratio", GroupMail, "up", w); v != 1 {
			t.Errorf("backline_backend_uptime_ratio{window=%q} = %v, want 1", w, v)
		}
	}
	h.stop()
	got, _ := store.Load(context.Background(), []string{"up"})
	if len(got["up"]) == 0 {
		t.Fatal("nothing saved at stop")
	}
}

// TestUptimeLoadsOnReload: a reload that adds a backend whose history is
// in the store shows it without waiting for the next periodic sync.
func TestUptimeLoadsOnReload(t *testing.T) {
	clock := &engineClock{t: h0}
	step := func() time.Time {
		clock.mu.Lock()
		defer clock.mu.Unlock()
		clock.t = clock.t.Add(time.Second)
		return clock.t
	}
	store := state.NewMemoryUptimeStore(clock.now)
	stored := state.UptimeBucket{Start: h0.Truncate(time.Hour), Span: time.Hour, Up: 40 * time.Minute, Down: 10 * time.Minute}
	if err := store.Save(context.Background(), []state.UptimeRecord{{ID: "b", Buckets: []state.UptimeBucket{stored}}}); err != nil {
		t.Fatal(err)
	}
	fast := func(targets ...*probe.Target) Group {
		g := mailGroup(targets...)
		g.ConnectInterval, g.DeepInterval = 20*time.Millisecond, 20*time.Millisecond
		return g
	}
	e, err := New([]Group{fast(mailTarget("a", 1, false))}, &scriptChecker{}, Options{Now: step})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.UseUptimeStore(store); err != nil {
		t.Fatal(err)
	}
	h := startEngineFrom(t, e)
	h.rounds(t, 2)
	if err := e.Reconfigure([]Group{fast(mailTarget("a", 1, false), mailTarget("b", 2, false))}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second) // a hang guard, not a timing assertion
	for {
		s := h.next(t)
		if b, ok := findBackend(s, "b"); ok && b.Uptime.Week.Checked >= stored.Checked() {
			if b.Uptime.Week.Ratio >= 0.9 || b.Uptime.Week.Ratio < 0.79 {
				t.Fatalf("b's week = %+v, want the stored 40 of 50 minutes up", b.Uptime.Week)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("b's stored history never showed")
		}
	}
}
