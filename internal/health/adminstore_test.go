package health

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestAdminStateFileRoundTrip(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 12, 3, 7, 0, 0, 0, time.UTC)}
	g := mailGroup(mailTarget("a", 1, false), mailTarget("b", 2, false))
	e, err := New([]Group{g}, &scriptChecker{}, Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "admin-state.json")
	e.OnAdminChange(func() {
		if err := SaveAdminFile(path, e.AdminRecords()); err != nil {
			t.Error(err)
		}
	})
	if _, err := e.SetAdmin("a", AdminChange{State: ptr(AdminMaint), Weight: ptr(0), TTL: time.Hour, Who: "ops", Why: ptr("disk swap")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.SetAdmin("b", AdminChange{ChecksPaused: ptr(true), Health: ptr(HealthUp), Who: "ops"}); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("state file: %v %v", st, err)
	}
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), testPassword) {
		t.Fatal("password in state file")
	}

	// A new process: same targets plus nothing; "a" kept, "b" kept, a
	// record for an unknown ID kept but not applied, an expired one dropped.
	recs, err := LoadAdminFile(path)
	if err != nil || len(recs) != 2 {
		t.Fatalf("load: %v %+v", err, recs)
	}
	past := clock.now.Add(-time.Minute)
	recs = append(recs, AdminRecord{ID: "gone", State: AdminDrain, Since: clock.now},
		AdminRecord{ID: "b", State: AdminDrain, Since: clock.now.Add(-2 * time.Hour), Until: &past})
	e2, err := New([]Group{mailGroup(mailTarget("a", 1, false), mailTarget("b", 2, false))}, &scriptChecker{}, Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	unknown, errs := e2.RestoreAdmin(recs)
	if len(errs) != 0 || len(unknown) != 1 || unknown[0] != "gone" {
		t.Fatalf("restore: unknown=%v errs=%v", unknown, errs)
	}
	a, _ := findBackend(e2.Snapshot(), "a")
	if a.Admin.State != AdminMaint || a.Weight != 0 || a.Admin.Why != "disk swap" || a.Eligible || !a.Admin.Until.Equal(clock.now.Add(time.Hour)) {
		t.Fatalf("a restored: %+v", a.Admin)
	}
	b, _ := findBackend(e2.Snapshot(), "b")
	if !b.Admin.ChecksPaused || b.Admin.Health != HealthUp || b.Admin.State != AdminReady {
		t.Fatalf("b restored (the expired record must not replace it): %+v", b.Admin)
	}
	if ids := e2.adminIDs(); strings.Join(ids, ",") != "a,b,gone" {
		t.Fatalf("overrides %v: the unknown ID must be kept for the file", ids)
	}
	if _, ok := e2.GetAdmin("gone"); ok {
		t.Error("unknown ID visible")
	}
	// After expiry the file loses a's record at the next change.
	clock.add(time.Hour)
	if n := len(e2.AdminRecords()); n != 2 {
		t.Errorf("records after a's TTL: %d", n)
	}
}

func TestLoadAdminFileHostile(t *testing.T) {
	dir := t.TempDir()
	if recs, err := LoadAdminFile(filepath.Join(dir, "missing.json")); err != nil || recs != nil {
		t.Fatalf("missing: %v %v", recs, err)
	}
	for name, content := range map[string]string{
		"truncated":      `{"version":1,"backends":[{"id":"a"`,
		"garbage":        "\x00\x01binary",
		"unknown field":  `{"version":1,"backends":[],"extra":1}`,
		"wrong version":  `{"version":2,"backends":[]}`,
		"trailing":       `{"version":1,"backends":[]} {}`,
		"wrong type":     `{"version":1,"backends":{"id":"a"}}`,
		"empty":          ``,
		"weight as text": `{"version":1,"backends":[{"id":"a","weight":"5","since":"2026-01-01T00:00:00Z"}]}`,
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadAdminFile(p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, []byte(`{"version":1,"backends":[`+strings.Repeat(" ", maxAdminFile)+`]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadAdminFile(big); err == nil || !strings.Contains(err.Error(), "larger") {
		t.Errorf("oversized: %v", err)
	}
	if _, err := LoadAdminFile(dir); err == nil {
		t.Error("directory accepted")
	}

	// Invalid records are refused one by one; valid ones still apply.
	e, err := New([]Group{mailGroup(mailTarget("a", 1, false))}, &scriptChecker{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, errs := e.RestoreAdmin([]AdminRecord{
		{ID: "a", State: "broken"},
		{ID: "a", Weight: ptr(1000)},
		{ID: "a", Why: "line\nbreak"},
		{ID: ""},
		{ID: strings.Repeat("x", 2000)},
		{ID: "a", State: AdminDrain},
	})
	if len(errs) != 5 {
		t.Errorf("errors: %v", errs)
	}
	if a, _ := e.GetAdmin("a"); a.State != AdminDrain {
		t.Errorf("valid record not applied: %+v", a)
	}
}
