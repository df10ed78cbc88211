package health

import "errors"

// TEMPORARY STUB (helper D, hot reload) — DELETE when helper R's registry
// with the real (*Engine).Reconfigure lands on main.
//
// Reconfigure accepts only groups with the same groups and backend IDs as
// the running engine (nothing to change); anything else needs the registry.
func (e *Engine) Reconfigure(groups []Group) error {
	type key struct{ group, id string }
	var want []key
	for _, g := range groups {
		for _, t := range g.Targets {
			want = append(want, key{g.Name, t.Name})
		}
	}
	var have []key
	if snap := e.Snapshot(); snap != nil {
		for _, b := range snap.Backends {
			have = append(have, key{b.Group, b.ID})
		}
	}
	if len(want) != len(have) {
		return errors.New("health: changing health-check targets needs a restart (reconfigure stub)")
	}
	for i := range want {
		if want[i] != have[i] {
			return errors.New("health: changing health-check targets needs a restart (reconfigure stub)")
		}
	}
	return nil
}
