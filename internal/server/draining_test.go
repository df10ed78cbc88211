package server

import (
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/server/statuspagefake"
)

// The status API marks a drained backend that still serves its sticky
// users as draining, beside the admin state that says since when and by
// whom; a drain that serves nobody (here: forced down) is not draining.
func TestBackendsAPIShowsDraining(t *testing.T) {
	snap := statuspagefake.Drained(pageNow)
	down := &snap.Backends[0]
	down.Eligible, down.Reason = false, health.ReasonDrain
	down.Admin = health.Admin{State: health.AdminDrain, Weight: 1, Health: health.HealthDown, Source: health.SourceAPI}
	s := New(Options{Address: "127.0.0.1:0", Snapshot: fixedSource{snap}, Logger: slog.New(slog.DiscardHandler)})
	got := do(t, s.Handler(), "GET", "/api/v1/backends", nil)
	var body struct {
		Backends []struct {
			ID       string    `json:"id"`
			Reason   string    `json:"reason"`
			Draining *bool     `json:"draining"`
			Admin    adminView `json:"admin"`
		} `json:"backends"`
	}
	if err := json.Unmarshal([]byte(got.body), &body); err != nil {
		t.Fatalf("%v\n%s", err, got.body)
	}
	seen := 0
	for _, b := range body.Backends {
		if b.Draining == nil {
			t.Fatalf("%s: no draining field", b.ID)
		}
		switch b.ID {
		case statuspagefake.DrainedID:
			seen++
			if !*b.Draining || b.Reason != "drain" || b.Admin.Who != "alice" || b.Admin.Since == nil ||
				!b.Admin.Since.Equal(pageNow.Add(-5*60e9)) {
				t.Errorf("draining backend: %+v", b)
			}
		case snap.Backends[0].ID:
			seen++
			if *b.Draining || b.Reason != "drain" {
				t.Errorf("forced-down drain reads as draining: %+v", b)
			}
		default:
			if *b.Draining {
				t.Errorf("%s draining", b.ID)
			}
		}
	}
	if seen != 2 {
		t.Fatalf("backends %v", body.Backends)
	}
}

// The status page names the state "draining" only while the drained
// backend serves its sticky users, and counts the time from the drain.
func TestStatusPageDrainVersusDraining(t *testing.T) {
	snap := statuspagefake.Drained(pageNow)
	snap.Backends[2].Draining = false // e.g. weight 0 as well: nobody is served
	p := render(t, snap, "")
	if r := p.row(t, statuspagefake.DrainedID); r.cells[cState] != "drain" || r.cells[cFor] != "5m" {
		t.Errorf("drain row: %q", r.cells)
	}
}
