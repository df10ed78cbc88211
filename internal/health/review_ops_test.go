package health

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backline/backline/internal/probe"
)

// backline_backend_draining is 1 only for a drain that keeps an otherwise
// eligible backend out: not for one that is down, forced down, at weight
// 0 or in maint; forced up overrides the checks as it does for
// eligibility; a drain sent again or a TTL edit keeps it.
func TestDrainingGaugeCases(t *testing.T) {
	for _, tc := range []struct {
		name    string
		healthy bool
		changes []AdminChange
		want    float64
	}{
		{"drained", true, []AdminChange{{State: ptr(AdminDrain)}}, 1},
		{"drained and down", false, []AdminChange{{State: ptr(AdminDrain)}}, 0},
		{"drained, down, forced up", false, []AdminChange{{State: ptr(AdminDrain), Health: ptr(HealthUp)}}, 1},
		{"drained, forced down", true, []AdminChange{{State: ptr(AdminDrain), Health: ptr(HealthDown)}}, 0},
		{"drained at weight 0", true, []AdminChange{{Weight: ptr(0)}, {State: ptr(AdminDrain)}}, 0},
		{"drained, down, checks paused", false, []AdminChange{{State: ptr(AdminDrain), ChecksPaused: ptr(true)}}, 0},
		{"drained, then maint", true, []AdminChange{{State: ptr(AdminDrain)}, {State: ptr(AdminMaint)}}, 0},
		{"drained again with a TTL", true, []AdminChange{{State: ptr(AdminDrain)}, {State: ptr(AdminDrain), TTL: time.Hour}}, 1},
		{"drain ended by its TTL", true, []AdminChange{{State: ptr(AdminDrain), TTL: time.Minute}}, 0},
		{"drained and stale", true, []AdminChange{{State: ptr(AdminDrain)}}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fakeClock{now: time.Unix(5000, 0)}
			reg := prometheus.NewPedanticRegistry()
			g := mailGroup(mailTarget("a", 1, false))
			g.InitialHealthy = tc.healthy
			e, err := New([]Group{g}, &scriptChecker{}, Options{Now: clock.Now, Registerer: reg})
			if err != nil {
				t.Fatal(err)
			}
			for _, ch := range tc.changes {
				ch.Who = "ops"
				if _, err := e.SetAdmin("a", ch); err != nil {
					t.Fatal(err)
				}
			}
			switch tc.name {
			case "drain ended by its TTL":
				clock.add(2 * time.Minute)
				e.recheck()
			case "drained and stale": // no check for over three intervals
				clock.add(4 * g.ConnectInterval)
				e.recheck()
			}
			if v := metricValue(t, reg, "backline_backend_draining", GroupMail, "a"); v != tc.want {
				t.Errorf("draining = %v, want %v", v, tc.want)
			}
			b, _ := findBackend(e.Snapshot(), "a")
			if b.Eligible && b.Draining {
				t.Errorf("eligible and draining at once: %+v", b)
			}
			if tc.name == "drained and stale" {
				b.Admin.State = AdminReady
				if _, why := Eligibility(b, clock.Now()); why != ReasonStale {
					t.Errorf("the case is not stale: %q", why)
				}
			}
		})
	}
}

// A reload that removes a drained backend takes its draining series with
// it; a renamed one (same address, its state carried) reports under its
// new name only. No stale series is left behind.
func TestDrainingGaugeFollowsReload(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	e, err := New([]Group{mailGroup(mailTarget("a", 1, false), mailTarget("b", 2, false), mailTarget("c", 3, false))},
		&scriptChecker{}, Options{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "b"} {
		if _, err := e.SetAdmin(id, AdminChange{State: ptr(AdminDrain), Who: "ops"}); err != nil {
			t.Fatal(err)
		}
	}
	if n := seriesCount(t, reg, "backline_backend_draining"); n != 3 {
		t.Fatalf("before the reload: %d draining series", n)
	}
	// a removed; b renamed to b2 at the same address; c kept.
	if err := e.Reconfigure([]Group{mailGroup(mailTarget("b2", 2, false), mailTarget("c", 3, false))}); err != nil {
		t.Fatal(err)
	}
	if n := seriesCount(t, reg, "backline_backend_draining"); n != 2 {
		t.Errorf("after the reload: %d draining series, want 2 (b2, c)", n)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "name" && (l.GetValue() == "a" || l.GetValue() == "b") {
					t.Errorf("%s keeps a series for %q after the reload", f.GetName(), l.GetValue())
				}
			}
		}
	}
	b2, ok := findBackend(e.Snapshot(), "b2")
	if !ok {
		t.Fatalf("no b2 in %+v", e.Snapshot().Backends)
	}
	if b2.Admin.State != AdminDrain {
		t.Errorf("the renamed backend lost its drain: %+v", b2.Admin)
	}
	if v := metricValue(t, reg, "backline_backend_draining", GroupMail, "b2"); v != 1 {
		t.Errorf("renamed drained backend: draining{b2} = %v", v)
	}
}

// Two instances sharing admin state (what the sharer does over Redis:
// records as JSON, ReplaceAdmin on the other side): since and who of a
// drain agree on both, survive the round trip exactly, and a weight or
// reason edit made on the second instance keeps them on both.
func TestAdminSinceAgreesAcrossInstances(t *testing.T) {
	clockA := &fakeClock{now: time.Date(2026, 12, 4, 6, 55, 0, 123456789, time.Local)}
	clockB := &fakeClock{now: clockA.now}
	newEngine := func(c *fakeClock) *Engine {
		e, err := New([]Group{mailGroup(mailTarget("mbox03", 1, false))}, &scriptChecker{}, Options{Now: c.Now})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	a, b := newEngine(clockA), newEngine(clockB)
	viaRedis := func(recs []AdminRecord) []AdminRecord {
		data, err := json.Marshal(recs)
		if err != nil {
			t.Fatal(err)
		}
		var out []AdminRecord
		if err := json.Unmarshal(data, &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	sync := func(from, to *Engine) {
		t.Helper()
		if applied, errs := to.ReplaceAdmin(to.AdminRecords(), viaRedis(from.AdminRecords())); !applied || len(errs) > 0 {
			t.Fatalf("ReplaceAdmin: applied %v, %v", applied, errs)
		}
	}
	drained, err := a.SetAdmin("mbox03", AdminChange{State: ptr(AdminDrain), Who: "alice", Why: ptr("disk swap")})
	if err != nil {
		t.Fatal(err)
	}
	sync(a, b)
	check := func(when string) {
		t.Helper()
		for name, e := range map[string]*Engine{"a": a, "b": b} {
			got, _ := e.GetAdmin("mbox03")
			snap, _ := findBackend(e.Snapshot(), "mbox03")
			for what, adm := range map[string]Admin{"GetAdmin": got, "snapshot": snap.Admin} {
				if !adm.Since.Equal(drained.Since) || adm.Who != "alice" || adm.State != AdminDrain {
					t.Errorf("%s, instance %s, %s: %s since %v by %q, want drain since %v by alice",
						when, name, what, adm.State, adm.Since, adm.Who, drained.Since)
				}
			}
		}
		if !SameAdminRecords(a.AdminRecords(), b.AdminRecords(), clockA.Now()) {
			t.Errorf("%s: the instances disagree:\n%+v\n%+v", when, a.AdminRecords(), b.AdminRecords())
		}
	}
	check("after the drain")

	clockB.add(time.Minute)
	if _, err := b.SetAdmin("mbox03", AdminChange{Weight: ptr(5), Why: ptr("disk swap, slot 3"), Who: "bob"}); err != nil {
		t.Fatal(err)
	}
	sync(b, a)
	check("after bob's edit on b")
	if adm, _ := a.GetAdmin("mbox03"); adm.Weight != 5 || adm.Why != "disk swap, slot 3" {
		t.Errorf("the edit did not travel: %+v", adm)
	}

	clockA.add(2 * time.Minute)
	ready, err := a.SetAdmin("mbox03", AdminChange{State: ptr(AdminReady), Who: "carol"})
	if err != nil {
		t.Fatal(err)
	}
	sync(a, b)
	if adm, _ := b.GetAdmin("mbox03"); !adm.Since.Equal(ready.Since) || adm.Who != "carol" {
		t.Errorf("b after carol's ready: since %v by %q, want %v by carol", adm.Since, adm.Who, ready.Since)
	}
}

// While checks are paused the checked address stays the last check's,
// but a reload that moves the backend to another host drops it (it was
// reached for the old host), as docs/auth.md promises: the pause does not
// keep nginx on the old machine. The pause itself carries over.
func TestCheckedAddrDroppedByAReloadThatMovesAPausedBackend(t *testing.T) {
	checker := checkerFunc(func(_ context.Context, tg *probe.Target, phase probe.Phase) probe.Result {
		return probe.Result{Phase: phase, OK: true, RemoteAddr: "192.0.2.40:143"}
	})
	g := Group{Name: GroupMail, ConnectInterval: time.Millisecond, DeepInterval: time.Millisecond,
		FailureThreshold: 1, RecoveryThreshold: 1, InitialHealthy: true,
		Targets: []*probe.Target{mailTarget("a", 143, false)}}
	h := startEngine(t, []Group{g}, checker, Options{})
	if b := backendByName(t, h.next(t), "a"); addrString(b.Addr) != "192.0.2.40" {
		t.Fatalf("before the pause: %v", b.Addr)
	}
	if _, err := h.e.SetAdmin("a", AdminChange{ChecksPaused: ptr(true), Who: "ops"}); err != nil {
		t.Fatal(err)
	}
	h.fresh(t)
	moved := mailTarget("a", 143, false)
	moved.Host = "127.0.0.2"
	g.Targets = []*probe.Target{moved}
	if err := h.e.Reconfigure([]Group{g}); err != nil {
		t.Fatal(err)
	}
	b := backendByName(t, h.fresh(t), "a")
	if b.Addr.IsValid() || !b.ChecksPaused {
		t.Errorf("after the move: Addr %v (want none), paused %v", b.Addr, b.ChecksPaused)
	}
}
