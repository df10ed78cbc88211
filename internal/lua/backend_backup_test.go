package lua

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
)

// backupTarget is a mail backend of a protocol, eligible or not (with the
// reason health would give), primary or backup.
func backupTarget(name, proto string, eligible, backup bool) health.Backend {
	tg := target(name, "10.0.0.1", 143)
	tg.Protocol = proto
	b := mail(tg, eligible)
	b.ID, b.Backup = name, backup
	return b
}

// serverLines is what backupListingScript logged for get_backend_servers.
func serverLines(out *FilterOutcome) []string {
	var lines []string
	for _, l := range out.Logs {
		if len(l.Key) > 7 && l.Key[:7] == "servers" {
			lines = append(lines, l.Value.(string))
		}
	}
	return lines
}

// TestBackendServersLeaveBackupsOutWhilePrimaryUp: one eligible primary is
// enough; an ineligible primary next to it changes nothing.
func TestBackendServersLeaveBackupsOutWhilePrimaryUp(t *testing.T) {
	src := snapshotOf(
		backupTarget("spare1", "imap", true, true),
		backupTarget("down", "imap", false, false),
		backupTarget("up", "imap", true, false),
		backupTarget("spare2", "imap", true, true),
	)
	out, err, _ := runOne(t, backupListingScript, engineSetup{health: src})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"up imap false"}, serverLines(out)); diff != "" {
		t.Errorf("get_backend_servers (-want +got):\n%s", diff)
	}
	// The status list, for admins, still shows every target.
	if n := len(out.Logs) - len(serverLines(out)); n != 4 {
		t.Errorf("status list has %d entries, want 4: %v", n, out.Logs)
	}
}

// TestBackendServersListBackupsWhenNoPrimaryEligible: with every primary
// out (unhealthy, drained), the eligible backups are listed, so a script
// that picks from the list fails over; an unhealthy backup is not.
func TestBackendServersListBackupsWhenNoPrimaryEligible(t *testing.T) {
	drained := backupTarget("drained", "imap", true, false)
	drained.Admin.State, drained.Eligible, drained.Reason = health.AdminDrain, false, health.ReasonDrain
	src := snapshotOf(
		backupTarget("down", "imap", false, false),
		drained,
		backupTarget("spare1", "imap", true, true),
		backupTarget("spare-down", "imap", false, true),
		backupTarget("spare2", "imap", true, true),
	)
	out, err, _ := runOne(t, backupListingScript, engineSetup{health: src})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"spare1 imap true", "spare2 imap true"}, serverLines(out)); diff != "" {
		t.Errorf("get_backend_servers (-want +got):\n%s", diff)
	}
}

// TestBackendServersBackupsPerProtocol: failover is per protocol, as the
// policy's: IMAP's primaries are down, so its backup is listed; SMTP's
// primary is up, so its backup is not; POP3 has only backups, which are
// then ordinary targets.
func TestBackendServersBackupsPerProtocol(t *testing.T) {
	src := snapshotOf(
		backupTarget("imap-p", "imap", false, false),
		backupTarget("smtp-s", "smtp", true, true),
		backupTarget("imap-s", "imap", true, true),
		backupTarget("smtp-p", "smtp", true, false),
		backupTarget("pop3-s", "pop3", true, true),
	)
	out, err, _ := runOne(t, backupListingScript, engineSetup{health: src})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"imap-s imap true", "smtp-p smtp false", "pop3-s pop3 true"}
	if diff := cmp.Diff(want, serverLines(out)); diff != "" {
		t.Errorf("get_backend_servers (-want +got):\n%s", diff)
	}
}

// TestBackendServersFollowFailoverAndRecovery: the server objects are
// cached per snapshot; a state that served a failover snapshot lists the
// primary again, and not the backup, once a snapshot has it back.
func TestBackendServersFollowFailoverAndRecovery(t *testing.T) {
	// A Nauthilus-style script: the first server of the protocol, no
	// notion of backups.
	src := `local b = require("nauthilus_backend")
function nauthilus_call_filter(request)
  for _, s in ipairs(b.get_backend_servers()) do
    if s.protocol == "imap" then
      b.select_backend_server(s.host, s.port)
      break
    end
  end
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end`
	snap := func(primaryUp bool) *health.Snapshot {
		spare := backupTarget("spare", "imap", true, true)
		spare.Target.Host = "10.0.0.9"
		return snapshotOf(spare, backupTarget("primary", "imap", primaryUp, false)).Snap
	}
	e, _ := newEngine(t, engineSetup{
		filters: []config.LuaFilter{{Name: "pick", ScriptPath: writeScript(t, "pick.lua", src, 0)}},
		health:  snapshotOf(),
	})
	for i, tc := range []struct {
		primaryUp bool
		want      string
	}{{true, "10.0.0.1"}, {false, "10.0.0.9"}, {true, "10.0.0.1"}} {
		out, err := e.RunFilters(context.Background(), &Request{Username: "u", Protocol: "imap", Snapshot: snap(tc.primaryUp)})
		if err != nil {
			t.Fatal(err)
		}
		if out.Selected == nil || out.Selected.Host != tc.want {
			t.Errorf("run %d (primary up %v): selected %+v, want %s", i, tc.primaryUp, out.Selected, tc.want)
		}
	}
}
