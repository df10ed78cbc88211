package lua

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/backline/backline/internal/health"
)

// TestServerObjectsShowDraining: server objects carry draining (false on
// every server get_backend_servers lists: they are eligible), and the
// status list says which drained backend still serves its sticky users
// (draining) and which serves nobody (drain and weight 0).
func TestServerObjectsShowDraining(t *testing.T) {
	ready := mail(target("ready", "10.0.0.1", 143), true)
	draining := mail(target("draining", "10.0.0.2", 143), true)
	draining.Admin.State, draining.Admin.Source = health.AdminDrain, health.SourceAPI
	draining.Eligible, draining.Reason, draining.Draining = false, health.ReasonDrain, true
	idle := mail(target("idle", "10.0.0.3", 143), true)
	idle.Admin.State, idle.Weight = health.AdminDrain, 0
	idle.Eligible, idle.Reason = false, health.ReasonDrain
	src := snapshotOf(ready, draining, idle)

	script := `
function nauthilus_call_filter(r)
  for i, s in ipairs(nauthilus_backend.get_backend_servers()) do
    nauthilus_builtin.custom_log_add("servers" .. i, s.id .. " " .. type(s.draining) .. " " .. tostring(s.draining))
  end
  for i, s in ipairs(nauthilus_backend.get_backend_servers_status()) do
    nauthilus_builtin.custom_log_add("status" .. i, s.id .. " " .. s.admin_state .. " " .. tostring(s.draining))
  end
  ` + acceptReturn + `
end`
	out, err, _ := runOne(t, script, engineSetup{health: src})
	if err != nil {
		t.Fatal(err)
	}
	want := []LogField{
		{"servers1", "ready boolean false"},
		{"status1", "ready ready false"},
		{"status2", "draining drain true"},
		{"status3", "idle drain false"},
	}
	if diff := cmp.Diff(want, out.Logs); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
