package server

import (
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/server/statuspagefake"
)

// A backend drained by its own check answer (drain_on_status) reads
// reason check_drain, draining, with the status, in the API; the status
// page shows it draining and says where the drain comes from.
func TestCheckDrainInAPIAndPage(t *testing.T) {
	web := statuspagefake.Target("web", "http", "10.0.0.9", 80, true)
	b := statuspagefake.Healthy(web, health.GroupMail, pageNow)
	b.Eligible, b.Reason, b.Draining, b.CheckDrainStatus = false, health.ReasonCheckDrain, true, 404
	snap := &health.Snapshot{Round: 1, Backends: []health.Backend{b}}
	s := New(Options{Address: "127.0.0.1:0", Snapshot: fixedSource{snap}, Logger: slog.New(slog.DiscardHandler)})
	got := do(t, s.Handler(), "GET", "/api/v1/backends", nil)
	var body struct {
		Backends []struct {
			Reason           string `json:"reason"`
			Draining         bool   `json:"draining"`
			CheckDrainStatus int    `json:"check_drain_status"`
		} `json:"backends"`
	}
	if err := json.Unmarshal([]byte(got.body), &body); err != nil {
		t.Fatalf("%v\n%s", err, got.body)
	}
	if len(body.Backends) != 1 || body.Backends[0].Reason != "check_drain" || !body.Backends[0].Draining || body.Backends[0].CheckDrainStatus != 404 {
		t.Fatalf("API: %s", got.body)
	}
	p := render(t, snap, "")
	r := p.row(t, b.ID)
	if r.cells[cState] != "draining" || !strings.Contains(r.cells[cBackend], "check drain (HTTP 404)") {
		t.Errorf("page row: %q", r.cells)
	}
}
