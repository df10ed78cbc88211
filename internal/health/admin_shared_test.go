package health

import (
	"testing"
	"time"
)

// TestReplaceAdmin: shared storage's view replaces the overrides, but not
// over a local change the caller has not seen yet.
func TestReplaceAdmin(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 12, 3, 7, 0, 0, 0, time.UTC)}
	g := mailGroup(mailTarget("a", 1, false), mailTarget("b", 2, false))
	e, err := New([]Group{g}, &scriptChecker{}, Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	e.OnAdminChange(func() { calls++ })
	second := 0
	e.OnAdminChange(func() { second++ })

	// Another instance drained a and paused b's checks.
	until := clock.Now().Add(time.Hour)
	remote := []AdminRecord{
		{ID: "a", State: AdminDrain, Who: "ops@other", Since: clock.Now(), Until: &until},
		{ID: "b", ChecksPaused: true, Since: clock.Now()},
		{ID: "gone", State: AdminMaint, Since: clock.Now()},
		{ID: "bad", State: "sleeping", Since: clock.Now()},
	}
	applied, errs := e.ReplaceAdmin(nil, remote)
	if !applied || len(errs) != 1 {
		t.Fatalf("applied %v, errs %v", applied, errs)
	}
	if a, _ := e.GetAdmin("a"); a.State != AdminDrain || a.Who != "ops@other" {
		t.Errorf("a = %+v", a)
	}
	if b := e.Snapshot().Backends; b[0].Eligible || !b[1].ChecksPaused {
		t.Errorf("snapshot not published: %+v", b)
	}
	if calls != 1 || second != 1 {
		t.Errorf("hooks called %d and %d times, want 1 each", calls, second)
	}
	view := e.AdminRecords()

	// The same list again changes nothing and calls no hook.
	if applied, _ := e.ReplaceAdmin(view, remote); !applied || calls != 1 {
		t.Errorf("unchanged replace: applied %v, calls %d", applied, calls)
	}

	// A local change the caller has not pushed: the replace is refused.
	if _, err := e.SetAdmin("a", AdminChange{State: ptr(AdminMaint), Who: "ops"}); err != nil {
		t.Fatal(err)
	}
	if applied, _ := e.ReplaceAdmin(view, nil); applied {
		t.Error("replace applied over an unseen local change")
	}
	if a, _ := e.GetAdmin("a"); a.State != AdminMaint {
		t.Errorf("local change lost: %+v", a)
	}

	// Remote cleared everything: overrides and paused checks go.
	if applied, _ := e.ReplaceAdmin(e.AdminRecords(), nil); !applied {
		t.Fatal("not applied")
	}
	if ids := e.adminIDs(); len(ids) != 0 {
		t.Errorf("overrides left: %v", ids)
	}
	if b := e.Snapshot().Backends; !b[0].Eligible || b[1].ChecksPaused {
		t.Errorf("after clearing: %+v", b)
	}
}

func TestSameAdminRecordsIgnoresOrderZoneAndExpired(t *testing.T) {
	now := time.Date(2026, 12, 3, 7, 0, 0, 0, time.UTC)
	past := now.Add(-time.Minute)
	a := []AdminRecord{{ID: "x", Since: now}, {ID: "y", Since: now.In(time.FixedZone("CET", 3600))}}
	b := []AdminRecord{{ID: "y", Since: now}, {ID: "x", Since: now}, {ID: "old", Since: past, Until: &past}}
	if !SameAdminRecords(a, b, now) {
		t.Error("same records reported different")
	}
	b[0].State = AdminDrain
	if SameAdminRecords(a, b, now) {
		t.Error("different records reported same")
	}
}
