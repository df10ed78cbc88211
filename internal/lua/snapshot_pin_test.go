package lua

import (
	"context"
	"testing"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
)

// TestRequestSnapshotIsWhatFiltersSee: a caller that pinned a snapshot for
// its request gets filters that read that one, not the engine's current.
func TestRequestSnapshotIsWhatFiltersSee(t *testing.T) {
	src := `local b = require("nauthilus_backend")
function nauthilus_call_filter(request)
  local s = b.get_backend_servers()
  if #s > 0 then b.select_backend_server(s[1].host, s[1].port) end
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end`
	e, _ := newEngine(t, engineSetup{
		filters: []config.LuaFilter{{Name: "pick", ScriptPath: writeScript(t, "pick.lua", src, 0)}},
		health:  snapshotOf(mail(target("current", "10.0.0.1", 143), true)),
	})
	pinned := snapshotOf(mail(target("pinned", "10.0.0.9", 143), true)).Snap
	for i := range pinned.Backends {
		pinned.Backends[i].Eligible = true
	}
	for _, tc := range []struct {
		snap *health.Snapshot
		want string
	}{{nil, "10.0.0.1"}, {pinned, "10.0.0.9"}} {
		out, err := e.RunFilters(context.Background(), &Request{Username: "u", Snapshot: tc.snap})
		if err != nil {
			t.Fatal(err)
		}
		if out.Selected == nil || out.Selected.Host != tc.want || out.SelectedBy != "pick" {
			t.Errorf("pinned=%v: selected %+v by %q, want %s by pick", tc.snap != nil, out.Selected, out.SelectedBy, tc.want)
		}
	}
}
