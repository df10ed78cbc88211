package lua

import (
	glua "github.com/yuin/gopher-lua"

	"github.com/backline/backline/internal/health"
)

// serverCache is a state's server objects for the healthy mail targets of
// one snapshot. get_backend_servers made ten userdata and ten views, and
// copied every backend, per call; snapshots never change, so a state makes
// them once per snapshot. Each call still returns a fresh list table (a
// script may change the list), and the objects' metatable is set again
// (setmetatable works on userdata in gopher-lua), so nothing one run does
// to them reaches the next.
type serverCache struct {
	snap    *health.Snapshot
	healthy []*glua.LUserData
}

// healthyServers returns the state's server objects for r's snapshot.
func (v *vm) healthyServers(r *scriptRun) []*glua.LUserData {
	snap := r.snapshot()
	if snap == nil {
		return nil
	}
	if v.servers.snap != snap {
		healthy := snap.Healthy(health.GroupMail, "")
		list := make([]*glua.LUserData, len(healthy))
		for i := range healthy {
			// Env is never read for userdata; the globals, not the
			// running script's environment, so the cache holds no run data.
			list[i] = &glua.LUserData{
				Env:   v.globals,
				Value: &serverView{target: healthy[i].Target, exposeSecrets: r.engine.cfg.Config.ExposeTestCredentials},
			}
		}
		v.servers = serverCache{snap: snap, healthy: list}
	}
	for _, ud := range v.servers.healthy {
		ud.Metatable = v.serverMeta
	}
	return v.servers.healthy
}
