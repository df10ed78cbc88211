package lua

import (
	glua "github.com/yuin/gopher-lua"

	"github.com/backline/backline/internal/health"
)

// serverCache is a state's server objects for the mail targets in service
// in one snapshot (health.Snapshot.Serving). get_backend_servers made ten userdata and ten views, and
// copied every backend, per call; snapshots never change, so a state makes
// them once per snapshot. Each call still returns a fresh list table (a
// script may change the list), and the objects' metatable is set again
// (setmetatable works on userdata in gopher-lua), so nothing one run does
// to them reaches the next.
type serverCache struct {
	snap     *health.Snapshot
	eligible []*glua.LUserData
}

// servingServers returns the state's server objects for r's snapshot:
// the eligible mail targets, backups only during a failover.
func (v *vm) servingServers(r *scriptRun) []*glua.LUserData {
	snap := r.snapshot()
	if snap == nil {
		return nil
	}
	if v.servers.snap != snap {
		// Serving, not Eligible: a backup is offered only while no primary
		// of its protocol is eligible. Nauthilus has no backups, so its
		// scripts pick from this list without reading server.backup; a
		// listed backup would take logins while a primary is up.
		eligible := snap.Serving(health.GroupMail, "")
		expose := r.engine.cfg.Config.ExposeTestCredentials
		lookup, _ := r.engine.health.(health.TargetLookup)
		list := make([]*glua.LUserData, len(eligible))
		for i := range eligible {
			sv := newServerView(&eligible[i])
			if expose && lookup != nil {
				if pt, ok := lookup.ProbeTarget(eligible[i].ID); ok {
					sv.password, sv.requestURI = pt.Password, pt.RequestURI
				}
			}
			// Env is never read for userdata; the globals, not the
			// running script's environment, so the cache holds no run data.
			list[i] = &glua.LUserData{Env: v.globals, Value: sv}
		}
		v.servers = serverCache{snap: snap, eligible: list}
	}
	for _, ud := range v.servers.eligible {
		ud.Metatable = v.serverMeta
	}
	return v.servers.eligible
}
