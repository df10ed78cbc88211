package server

import (
	"strings"
	"testing"

	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/server/statuspagefake"
)

// The backend cell names the connect-only check in effect, and the
// filter finds it.
func TestStatusPageShowsConnectCheck(t *testing.T) {
	greet := statuspagefake.Target("mbox01", "imap", "10.0.0.1", 143, true)
	greet.ConnectCheck = "greeting"
	tarpit := statuspagefake.Target("mx-tarpit", "smtp", "10.0.0.2", 25, false)
	tarpit.ConnectCheck = "tcp"
	old := statuspagefake.Target("old", "imap", "10.0.0.3", 143, false)
	snap := &health.Snapshot{Round: 1, Backends: []health.Backend{
		statuspagefake.Healthy(greet, health.GroupMail, pageNow),
		statuspagefake.Healthy(tarpit, health.GroupMail, pageNow),
		statuspagefake.Healthy(old, health.GroupMail, pageNow),
	}}
	p := render(t, snap, "")
	want := map[string]string{"mbox01": "imap plain connect:greeting deep", "mx-tarpit": "smtp plain connect:tcp", "old": "imap plain"}
	for _, r := range p.rows {
		cell := r.cells[cBackend]
		if !strings.HasPrefix(cell, r.id+" "+want[r.id]) {
			t.Errorf("%s: backend cell %q, want %q", r.id, cell, want[r.id])
		}
		if r.id == "old" && strings.Contains(cell, "connect:") {
			t.Errorf("a target without connect_check shows one: %q", cell)
		}
	}
	if f := render(t, snap, "connect:tcp"); len(f.rows) != 1 || f.rows[0].id != "mx-tarpit" {
		t.Errorf("filter connect:tcp: %v", f.rows)
	}
}

// While a gateway backend is in panic mode, each of its origins says so
// (the down ones take traffic again) and its roll-up too; out of panic,
// nothing is added.
func TestStatusPageShowsPanic(t *testing.T) {
	origin := func(id string, healthy bool) health.Backend {
		b := statuspagefake.Healthy(statuspagefake.Target(id, "http", "10.0.0.9", 80, false), "gateway:api", pageNow)
		b.ID, b.PanicThreshold, b.Healthy = "gateway:api@http://"+id, 50, healthy
		b.Eligible, b.Reason = health.Eligibility(b, pageNow)
		return b
	}
	snap := &health.Snapshot{Round: 1, Backends: []health.Backend{
		origin("10.0.0.1:80", true), origin("10.0.0.2:80", false), origin("10.0.0.3:80", false),
	}}
	p := render(t, snap, "")
	if len(p.rows) != 3 {
		t.Fatalf("rows: %v", p.rows)
	}
	for _, r := range p.rows {
		if !strings.Contains(r.cells[cBackend], "panic: 1 of 3 usable origins eligible, under 50 %; balancing over all 3") {
			t.Errorf("%s: backend cell %q", r.id, r.cells[cBackend])
		}
	}
	if len(p.rollups) != 1 || !strings.HasSuffix(strings.TrimSpace(p.rollups[0]), ", panic mode") {
		t.Errorf("roll-ups: %q", p.rollups)
	}
	if f := render(t, snap, "panic"); len(f.rows) != 3 {
		t.Errorf("filter panic finds %d rows", len(f.rows))
	}

	snap.Backends[1] = origin("10.0.0.2:80", true)
	p = render(t, snap, "")
	for _, r := range p.rows {
		if strings.Contains(r.cells[cBackend], "panic") {
			t.Errorf("out of panic, %s: %q", r.id, r.cells[cBackend])
		}
	}
	if strings.Contains(p.rollups[0], "panic") {
		t.Errorf("out of panic, roll-up %q", p.rollups[0])
	}
}
