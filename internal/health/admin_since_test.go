package health

import (
	"testing"
	"time"
)

// admin.since and admin.who mark when and by whom the backend entered its
// admin state: editing the weight, the reason or the TTL of a drain, or
// draining it again, keeps them; another state, forced health or paused
// checks move them.
func TestAdminSinceMarksTheStateChange(t *testing.T) {
	clock := &fakeClock{now: time.Unix(5000, 0)}
	e, err := New([]Group{mailGroup(mailTarget("a", 1, false))}, &scriptChecker{}, Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	drainedAt := clock.Now()
	if _, err := e.SetAdmin("a", AdminChange{State: ptr(AdminDrain), Who: "alice", Why: ptr("disk swap")}); err != nil {
		t.Fatal(err)
	}
	for _, ch := range []AdminChange{
		{Weight: ptr(50), Who: "bob"},
		{Why: ptr("disk swap, slot 3"), Who: "bob"},
		{TTL: time.Hour, Who: "bob"},
		{State: ptr(AdminDrain), Who: "bob"},
	} {
		clock.add(time.Second)
		a, err := e.SetAdmin("a", ch)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := e.GetAdmin("a")
		b, _ := findBackend(e.Snapshot(), "a")
		for what, adm := range map[string]Admin{"answer": a, "GetAdmin": got, "snapshot": b.Admin} {
			if !adm.Since.Equal(drainedAt) || adm.Who != "alice" {
				t.Errorf("after %+v, %s: since %v by %q, want %v by alice", ch, what, adm.Since, adm.Who, drainedAt)
			}
		}
	}
	if a, _ := e.GetAdmin("a"); a.Weight != 50 || a.Why != "disk swap, slot 3" || a.Until.IsZero() {
		t.Errorf("the edits were lost: %+v", a)
	}

	for _, ch := range []AdminChange{
		{State: ptr(AdminMaint), Who: "carol"},
		{Health: ptr(HealthDown), Who: "dave"},
		{ChecksPaused: ptr(true), Who: "erin"},
		{State: ptr(AdminReady), Who: "frank"},
	} {
		clock.add(time.Second)
		a, err := e.SetAdmin("a", ch)
		if err != nil {
			t.Fatal(err)
		}
		if !a.Since.Equal(clock.Now()) || a.Who != ch.Who {
			t.Errorf("after %+v: since %v by %q, want now by %s", ch, a.Since, a.Who, ch.Who)
		}
	}

	// The first change after a reset starts a new record, whatever it is.
	if _, err := e.ResetAdmin("a"); err != nil {
		t.Fatal(err)
	}
	clock.add(time.Second)
	if a, _ := e.SetAdmin("a", AdminChange{Weight: ptr(2), Who: "gina"}); !a.Since.Equal(clock.Now()) || a.Who != "gina" {
		t.Errorf("weight on the configuration: since %v by %q", a.Since, a.Who)
	}
}
