package lua

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/backline/backline/internal/health"
)

// TestServerObjectsShowAdminState: get_backend_servers lists eligible
// backends only (a drained one is left out) with id, admin_state, weight,
// eligible and reason; the status list shows every backend with why not.
func TestServerObjectsShowAdminState(t *testing.T) {
	ready := mail(target("ready", "10.0.0.1", 143), true)
	ready.Weight, ready.Admin.Weight = 5, 5
	drained := mail(target("drained", "10.0.0.2", 143), true)
	drained.Admin.State, drained.Admin.Source = health.AdminDrain, health.SourceAPI
	drained.Eligible, drained.Reason = false, health.ReasonDrain
	zero := mail(target("zero", "10.0.0.3", 143), true)
	zero.Weight, zero.Admin.Weight, zero.Eligible, zero.Reason = 0, 0, false, health.ReasonWeightZero
	src := snapshotOf(ready, drained, zero)

	script := `
function nauthilus_call_filter(r)
  for i, s in ipairs(nauthilus_backend.get_backend_servers()) do
    nauthilus_builtin.custom_log_add("servers" .. i, table.concat({s.id, s.admin_state, tostring(s.weight), tostring(s.eligible), "[" .. s.reason .. "]"}, " "))
  end
  for i, s in ipairs(nauthilus_backend.get_backend_servers_status()) do
    nauthilus_builtin.custom_log_add("status" .. i, table.concat({s.id, s.admin_state, tostring(s.weight), tostring(s.eligible), "[" .. s.reason .. "]"}, " "))
  end
  ` + acceptReturn + `
end`
	out, err, _ := runOne(t, script, engineSetup{health: src})
	if err != nil {
		t.Fatal(err)
	}
	want := []LogField{
		{"servers1", "ready ready 5 true []"},
		{"status1", "ready ready 5 true []"},
		{"status2", "drained drain 1 false [drain]"},
		{"status3", "zero ready 0 false [weight_zero]"},
	}
	if diff := cmp.Diff(want, out.Logs); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestServerObjectsShowBackup: server objects and the status list say
// which targets are backups. While a primary of its protocol is eligible,
// get_backend_servers leaves an eligible backup out (a Nauthilus script
// picks from the list without reading server.backup); the status list
// still shows it.
func TestServerObjectsShowBackup(t *testing.T) {
	primary := mail(target("primary", "10.0.0.1", 143), true)
	spare := mail(target("spare", "10.0.0.2", 143), true)
	spare.Backup = true
	src := snapshotOf(primary, spare)

	out, err, _ := runOne(t, backupListingScript, engineSetup{health: src})
	if err != nil {
		t.Fatal(err)
	}
	want := []LogField{
		{"servers1", "primary imap false"},
		{"status1", "primary imap false true"},
		{"status2", "spare imap true true"},
	}
	if diff := cmp.Diff(want, out.Logs); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// backupListingScript logs get_backend_servers (id, protocol, backup) and
// the status list (the same and eligible).
const backupListingScript = `
function nauthilus_call_filter(r)
  for i, s in ipairs(nauthilus_backend.get_backend_servers()) do
    nauthilus_builtin.custom_log_add("servers" .. i, s.id .. " " .. s.protocol .. " " .. tostring(s.backup))
  end
  for i, s in ipairs(nauthilus_backend.get_backend_servers_status()) do
    nauthilus_builtin.custom_log_add("status" .. i, s.id .. " " .. s.protocol .. " " .. tostring(s.backup) .. " " .. tostring(s.eligible))
  end
  ` + acceptReturn + `
end`
