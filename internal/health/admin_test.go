package health

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func ptr[T any](v T) *T { return &v }

func TestEligibilityOrder(t *testing.T) {
	now := time.Unix(1000, 0)
	base := Backend{Healthy: true, Weight: 1, Admin: defaultAdmin(1), StaleAfter: 10 * time.Second,
		Connect: PhaseState{LastCheck: now.Add(-time.Second)}}
	cases := []struct {
		name string
		edit func(b *Backend)
		ok   bool
		want Reason
	}{
		{"healthy ready", func(*Backend) {}, true, ""},
		{"maint beats drain and down", func(b *Backend) { b.Admin.State = AdminMaint; b.Healthy = false; b.Weight = 0 }, false, ReasonMaint},
		{"drain beats forced down", func(b *Backend) { b.Admin.State = AdminDrain; b.Admin.Health = HealthDown }, false, ReasonDrain},
		{"forced down beats healthy", func(b *Backend) { b.Admin.Health = HealthDown }, false, ReasonForcedDown},
		{"unhealthy", func(b *Backend) { b.Healthy = false }, false, ReasonUnhealthy},
		{"unhealthy beats stale", func(b *Backend) { b.Healthy = false; b.Connect.LastCheck = now.Add(-time.Hour) }, false, ReasonUnhealthy},
		{"stale", func(b *Backend) { b.Connect.LastCheck = now.Add(-10 * time.Second) }, false, ReasonStale},
		{"deep check counts as last check", func(b *Backend) {
			b.Connect.LastCheck = now.Add(-time.Hour)
			b.Deep.LastCheck = now.Add(-time.Second)
		}, true, ""},
		{"never checked: since counts", func(b *Backend) { b.Connect.LastCheck = time.Time{}; b.Since = now.Add(-11 * time.Second) }, false, ReasonStale},
		{"paused never stale", func(b *Backend) { b.Connect.LastCheck = now.Add(-time.Hour); b.ChecksPaused = true }, true, ""},
		{"no threshold never stale", func(b *Backend) { b.Connect.LastCheck = now.Add(-time.Hour); b.StaleAfter = 0 }, true, ""},
		{"stale beats weight zero", func(b *Backend) { b.Connect.LastCheck = now.Add(-time.Hour); b.Weight = 0 }, false, ReasonStale},
		{"weight zero", func(b *Backend) { b.Weight = 0 }, false, ReasonWeightZero},
		{"forced up overrides unhealthy", func(b *Backend) { b.Admin.Health = HealthUp; b.Healthy = false }, true, ""},
		{"forced up overrides stale", func(b *Backend) { b.Admin.Health = HealthUp; b.Connect.LastCheck = now.Add(-time.Hour) }, true, ""},
		{"forced up keeps weight zero", func(b *Backend) { b.Admin.Health = HealthUp; b.Weight = 0 }, false, ReasonWeightZero},
	}
	for _, c := range cases {
		b := base
		c.edit(&b)
		ok, why := Eligibility(b, now)
		if ok != c.ok || why != c.want {
			t.Errorf("%s: got %v %q, want %v %q", c.name, ok, why, c.ok, c.want)
		}
	}
}

// TestDrainingIsDrainOnly: Draining marks a drained backend that would be
// eligible in ready (it keeps its sticky users); drained and down, stale,
// ejected or weight 0, it keeps nobody. Maint never drains.
func TestDrainingIsDrainOnly(t *testing.T) {
	now := time.Unix(1000, 0)
	base := Backend{Healthy: true, Weight: 1, Admin: defaultAdmin(1), StaleAfter: 10 * time.Second,
		Connect: PhaseState{LastCheck: now.Add(-time.Second)}}
	base.Admin.State = AdminDrain
	cases := []struct {
		name     string
		edit     func(b *Backend)
		draining bool
	}{
		{"drained healthy", func(*Backend) {}, true},
		{"drained forced up", func(b *Backend) { b.Healthy = false; b.Admin.Health = HealthUp }, true},
		{"drained unhealthy", func(b *Backend) { b.Healthy = false }, false},
		{"drained forced down", func(b *Backend) { b.Admin.Health = HealthDown }, false},
		{"drained stale", func(b *Backend) { b.Connect.LastCheck = now.Add(-time.Hour) }, false},
		{"drained ejected", func(b *Backend) { b.EjectedUntil = now.Add(time.Minute) }, false},
		{"drained weight zero", func(b *Backend) { b.Weight = 0 }, false},
		{"maint healthy", func(b *Backend) { b.Admin.State = AdminMaint }, false},
		{"ready healthy", func(b *Backend) { b.Admin.State = AdminReady }, false},
	}
	for _, c := range cases {
		b := base
		c.edit(&b)
		ok, why, draining := Assess(b, now)
		if draining != c.draining {
			t.Errorf("%s: draining %v, want %v", c.name, draining, c.draining)
		}
		if wantOK, wantWhy := Eligibility(b, now); ok != wantOK || why != wantWhy {
			t.Errorf("%s: Assess says %v %q, Eligibility %v %q", c.name, ok, why, wantOK, wantWhy)
		}
		if draining && (ok || why != ReasonDrain) {
			t.Errorf("%s: draining but eligible %v, reason %q", c.name, ok, why)
		}
	}
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestSetAdminPublishesAtOnceAndExpires(t *testing.T) {
	clock := &fakeClock{now: time.Unix(5000, 0)}
	reg := prometheus.NewPedanticRegistry()
	g := mailGroup(mailTarget("a", 1, false), mailTarget("b", 2, false))
	g.Weights = []int{3, 1}
	e, err := New([]Group{g}, &scriptChecker{}, Options{Now: clock.Now, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	changes := 0
	e.OnAdminChange(func() { changes++ })
	before := e.Snapshot()
	if b, _ := findBackend(before, "a"); b.Weight != 3 || b.Admin.Weight != 3 || b.Admin.Source != SourceConfig || !b.Eligible {
		t.Fatalf("configured weight: %+v", b)
	}

	a, err := e.SetAdmin("a", AdminChange{State: ptr(AdminMaint), Weight: ptr(50), TTL: 30 * time.Minute, Who: "alice", Why: ptr("disk swap")})
	if err != nil {
		t.Fatal(err)
	}
	want := Admin{State: AdminMaint, Weight: 50, Health: HealthAuto, Who: "alice", Why: "disk swap",
		Since: clock.Now(), Until: clock.Now().Add(30 * time.Minute), Source: SourceAPI}
	if a != want {
		t.Fatalf("SetAdmin = %+v\nwant %+v", a, want)
	}
	snap := e.Snapshot()
	if snap == before || snap.Round <= before.Round {
		t.Fatal("no new snapshot after SetAdmin")
	}
	b, _ := findBackend(snap, "a")
	if b.Eligible || b.Reason != ReasonMaint || b.Weight != 50 || b.Admin != want {
		t.Fatalf("snapshot entry: %+v", b)
	}
	if before.Backends[0].Admin.State != AdminReady {
		t.Fatal("the old snapshot was modified")
	}
	if got, ok := e.GetAdmin("a"); !ok || got != want {
		t.Fatalf("GetAdmin = %+v %v", got, ok)
	}
	if v := metricValue(t, reg, "backline_backend_admin_changes_total", "maint"); v != 1 {
		t.Errorf("admin changes{maint} = %v", v)
	}
	if v := metricValue(t, reg, "backline_backend_eligible", GroupMail, "a"); v != 0 {
		t.Errorf("eligible{a} = %v", v)
	}
	if changes != 1 {
		t.Errorf("OnAdminChange calls = %d", changes)
	}

	// A later change without ttl keeps the end; fields not given stay.
	if a, _ = e.SetAdmin("a", AdminChange{State: ptr(AdminDrain), Who: "bob"}); a.Weight != 50 || a.Until != want.Until || a.Why != "disk swap" || a.Who != "bob" {
		t.Fatalf("second change: %+v", a)
	}

	// TTL over: read as configuration at once, republished by recheck.
	clock.add(30 * time.Minute)
	if got, _ := e.GetAdmin("a"); got != defaultAdmin(3) {
		t.Fatalf("after TTL GetAdmin = %+v", got)
	}
	e.recheck()
	b, _ = findBackend(e.Snapshot(), "a")
	if !b.Eligible || b.Admin.Source != SourceConfig || b.Weight != 3 {
		t.Fatalf("after TTL: %+v", b)
	}
	if len(e.adminIDs()) != 0 || changes != 3 {
		t.Errorf("overrides %v, OnAdminChange calls %d", e.adminIDs(), changes)
	}
}

func TestSetAdminRefusesBadInput(t *testing.T) {
	e, err := New([]Group{mailGroup(mailTarget("a", 1, false))}, &scriptChecker{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.SetAdmin("nope", AdminChange{State: ptr(AdminDrain)}); !errors.Is(err, ErrUnknownBackend) {
		t.Errorf("unknown: %v", err)
	}
	if _, err := e.ResetAdmin("nope"); !errors.Is(err, ErrUnknownBackend) {
		t.Errorf("reset unknown: %v", err)
	}
	for name, ch := range map[string]AdminChange{
		"state":        {State: ptr(AdminState("down"))},
		"weight high":  {Weight: ptr(257)},
		"weight low":   {Weight: ptr(-1)},
		"health":       {Health: ptr(ForcedHealth("maybe"))},
		"ttl":          {TTL: -time.Second},
		"why long":     {Why: ptr(strings.Repeat("x", MaxWhyLen+1))},
		"why newline":  {Why: ptr("a\nforged log line")},
		"why escape":   {Why: ptr("\x1b[31mred")},
		"why not utf8": {Why: ptr("\xff\xfe")},
		"who control":  {Who: "ops\r"},
	} {
		if _, err := e.SetAdmin("a", ch); !errors.Is(err, ErrInvalidAdmin) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if b := e.Snapshot().Backends[0]; b.Admin.Source != SourceConfig {
		t.Errorf("a refused change applied: %+v", b.Admin)
	}
	if _, err := e.SetAdmin("a", AdminChange{Why: ptr(strings.Repeat("é", MaxWhyLen/2))}); err != nil {
		t.Errorf("256 bytes of UTF-8: %v", err)
	}
}

// TestChecksPausedStopsProbing: paused IDs are not probed and keep their
// state; other targets go on.
func TestChecksPausedStopsProbing(t *testing.T) {
	checker := &scriptChecker{}
	g := mailGroup(mailTarget("a", 1, false), mailTarget("b", 2, false))
	g.ConnectInterval, g.DeepInterval = time.Millisecond, time.Millisecond
	e, err := New([]Group{g}, checker, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.SetAdmin("a", AdminChange{ChecksPaused: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	h := startEngineFrom(t, e)
	h.rounds(t, 3)
	h.stop()
	for _, c := range checker.callList() {
		if strings.HasPrefix(c, "a/") {
			t.Fatalf("paused target probed: %v", checker.callList())
		}
	}
	b, _ := findBackend(e.Snapshot(), "a")
	if !b.ChecksPaused || !b.Admin.ChecksPaused || !b.Connect.LastCheck.IsZero() {
		t.Fatalf("paused entry: %+v", b)
	}
	if _, err := e.ResetAdmin("a"); err != nil {
		t.Fatal(err)
	}
	if b, _ := findBackend(e.Snapshot(), "a"); b.ChecksPaused {
		t.Error("still paused after reset")
	}
}

// TestStaleRepublishedWithoutRound: a backend whose checks stop is taken
// out by the periodic recheck, not only at the next round.
func TestStaleRepublishedWithoutRound(t *testing.T) {
	clock := &fakeClock{now: time.Unix(5000, 0)}
	g := mailGroup(mailTarget("a", 1, false))
	g.ConnectInterval, g.DeepInterval = time.Second, time.Second
	e, err := New([]Group{g}, &scriptChecker{}, Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if b := e.Snapshot().Backends[0]; !b.Eligible || b.StaleAfter != 3*time.Second+4*time.Second {
		t.Fatalf("initial: eligible=%v staleAfter=%v", b.Eligible, b.StaleAfter)
	}
	clock.add(6 * time.Second)
	e.recheck()
	if b := e.Snapshot().Backends[0]; !b.Eligible {
		t.Fatal("stale too early")
	}
	clock.add(time.Second)
	e.recheck()
	if b := e.Snapshot().Backends[0]; b.Eligible || b.Reason != ReasonStale {
		t.Fatalf("not stale: %+v", b)
	}
}

// TestDrainingInTheSnapshot: the registry publishes Draining with the
// drain, and a drained backend whose checks stop loses it when it turns
// stale (the periodic recheck notices, not only the next round).
func TestDrainingInTheSnapshot(t *testing.T) {
	clock := &fakeClock{now: time.Unix(5000, 0)}
	g := mailGroup(mailTarget("a", 1, false))
	g.ConnectInterval, g.DeepInterval = time.Second, time.Second
	e, err := New([]Group{g}, &scriptChecker{}, Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if b := e.Snapshot().Backends[0]; b.Draining {
		t.Fatalf("ready backend draining: %+v", b)
	}
	if _, err := e.SetAdmin("a", AdminChange{State: ptr(AdminDrain)}); err != nil {
		t.Fatal(err)
	}
	if b := e.Snapshot().Backends[0]; b.Eligible || b.Reason != ReasonDrain || !b.Draining {
		t.Fatalf("drained: eligible %v reason %q draining %v", b.Eligible, b.Reason, b.Draining)
	}
	clock.add(7 * time.Second)
	e.recheck()
	if b := e.Snapshot().Backends[0]; b.Reason != ReasonDrain || b.Draining {
		t.Fatalf("drained and stale: reason %q draining %v", b.Reason, b.Draining)
	}
	if _, err := e.SetAdmin("a", AdminChange{State: ptr(AdminMaint)}); err != nil {
		t.Fatal(err)
	}
	if b := e.Snapshot().Backends[0]; b.Draining {
		t.Fatal("maint backend draining")
	}
}

// TestAdminChangeBeforeFirstRound: the new snapshot counts a round but
// carries no time, and the engine is not ready.
func TestAdminChangeBeforeFirstRound(t *testing.T) {
	e, err := New([]Group{mailGroup(mailTarget("a", 1, false))}, &scriptChecker{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s := e.Snapshot(); s.Round != 0 || !s.Taken.IsZero() || e.Ready() {
		t.Fatalf("initial: round %d taken %v ready %v", s.Round, s.Taken, e.Ready())
	}
	if _, err := e.SetAdmin("a", AdminChange{State: ptr(AdminDrain)}); err != nil {
		t.Fatal(err)
	}
	if s := e.Snapshot(); s.Round != 1 || !s.Taken.IsZero() || e.Ready() {
		t.Fatalf("after SetAdmin: round %d taken %v ready %v", s.Round, s.Taken, e.Ready())
	}
	h := startEngineFrom(t, e)
	if s := h.next(t); s.Taken.IsZero() || !e.Ready() || s.Backends[0].Reason != ReasonDrain {
		t.Fatalf("after the first round: %+v ready %v", s, e.Ready())
	}
}

// TestChecksGoOnDuringMaint: maint and drain take a backend out of
// rotation but its checks go on, so its health stays current.
func TestChecksGoOnDuringMaint(t *testing.T) {
	checker := &scriptChecker{script: map[string][]bool{"a/connect": {false}}}
	g := mailGroup(mailTarget("a", 1, false))
	g.ConnectInterval, g.DeepInterval = time.Millisecond, time.Millisecond
	e, err := New([]Group{g}, checker, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.SetAdmin("a", AdminChange{State: ptr(AdminMaint)}); err != nil {
		t.Fatal(err)
	}
	h := startEngineFrom(t, e)
	s := h.rounds(t, 2)
	h.stop()
	b := s.Backends[0]
	if b.Healthy || b.Connect.ConsecutiveFailures < 2 || b.Reason != ReasonMaint {
		t.Fatalf("during maint: healthy=%v failures=%d reason=%q", b.Healthy, b.Connect.ConsecutiveFailures, b.Reason)
	}
}
