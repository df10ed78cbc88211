package lua

import (
	glua "github.com/yuin/gopher-lua"
)

// A pooled state keeps the tables every run needs (the environment, the
// module proxies, the request table) and empties them after the run
// instead of making new ones: building them was about a sixth of a cached
// nginx answer, most of it gopher-lua's per-key bookkeeping, which a table
// keeps when a key is set to nil.
//
// That bookkeeping is also why a reused table must not grow for good:
// gopher-lua never forgets a string key once set, nor shrinks the array
// part. So a table is replaced by a fresh one once the keys it has been
// emptied of since it was made pass reuseMaxKeys or their bytes pass
// reuseMaxKeyBytes, and at once when a run stored a non-string key (the
// array part, or a table or number key) in it. A script that keeps adding
// keys therefore costs a fresh table now and then, never memory.
const (
	reuseMaxKeys     = 4096
	reuseMaxKeyBytes = 64 << 10
)

// The names every run sees besides the globals (_G, the request modules,
// nauthilus_builtin) live in the table a run's environment falls through
// to (the state's view of the globals, see freezeShared), not in the
// environment itself: they are the same objects run after run (the reused
// proxies, the reused environment as _G), so setting and emptying them per
// run was wasted work. A script assigning one of these names writes its
// environment, which shadows them for that run only. package.loaded keeps
// the proxies too, so require("nauthilus_backend") finds them.

// installRunBase finds the fall-through table and fills it.
func (v *vm) installRunBase() {
	view, ok := v.envMeta.RawGetString("__index").(*glua.LTable)
	if !ok {
		panic("lua: the environment's metatable has no __index table")
	}
	v.runBase = view
	v.fillRunBase()
}

// fillRunBase (re)writes the names; needed again when a reused table was
// replaced by a fresh one.
func (v *vm) fillRunBase() {
	v.baseStale = false
	bound := requestModules()
	for i, m := range bound {
		proxy := v.proxyTables[i].t
		if !m.notGlobal {
			v.runBase.RawSetString(m.name, proxy)
		}
		v.loaded.RawSetString(m.name, proxy)
	}
	v.runBase.RawSetString("nauthilus_builtin", v.proxyTables[len(bound)].t)
	// A script writing _G.x must not reach the shared globals either.
	v.runBase.RawSetString("_G", v.envTable.t)
}

// loggingKeys are what table() sets in request.logging.
var loggingKeys = []string{"log_format", "log_level"}

// resetRunTables empties the run's tables after the run.
func (v *vm) resetRunTables() {
	s := &v.scratch
	stale := v.envTable.reset(s)
	for _, p := range v.proxyTables {
		stale = p.reset(s) || stale
	}
	v.requestTable.resetKnown(s, v.requestKeys)
	v.requestKeys = v.requestKeys[:0]
	v.loggingTable.resetKnown(s, loggingKeys)
	v.baseStale = v.baseStale || stale
}

// reusedTable is one table a state hands to run after run.
type reusedTable struct {
	t *glua.LTable
	// cleared and clearedBytes count the keys emptied since t was made.
	cleared, clearedBytes int
	// hcap is the hash size a fresh table is made with.
	hcap int
}

func newReusedTable(hcap int) *reusedTable {
	return &reusedTable{t: newTable(hcap), hcap: hcap}
}

func newTable(hcap int) *glua.LTable {
	// CreateTable needs an LState only for its allocator; a table is plain
	// Go data, usable by any state.
	t := &glua.LTable{Metatable: glua.LNil}
	if hcap > 0 {
		t = (&glua.LState{}).CreateTable(0, hcap)
	}
	return t
}

// tableScratch collects keys while a table is emptied (one per state).
type tableScratch struct{ keys []glua.LValue }

// reset empties the table for the next run, or replaces it (see above)
// and reports that it did. Its metatable is reset by the caller, who knows
// what it must be.
//
// It walks the table with Next rather than ForEach: Next hands out the keys
// gopher-lua keeps boxed, ForEach boxes every string key again.
func (rt *reusedTable) reset(s *tableScratch) bool {
	if k, _ := rt.t.Next(glua.LNil); k == glua.LNil {
		return false // the usual case for the proxies
	}
	keys := s.keys[:0]
	fresh := false
	for k, _ := rt.t.Next(glua.LNil); k != glua.LNil; k, _ = rt.t.Next(k) {
		str, ok := k.(glua.LString)
		if !ok {
			fresh = true
			break
		}
		rt.clearedBytes += len(str)
		keys = append(keys, k)
	}
	rt.cleared += len(keys)
	replaced := fresh || rt.cleared > reuseMaxKeys || rt.clearedBytes > reuseMaxKeyBytes
	if replaced {
		rt.t = newTable(rt.hcap)
		rt.cleared, rt.clearedBytes = 0, 0
	} else {
		for _, k := range keys {
			rt.t.RawSetString(string(k.(glua.LString)), glua.LNil)
		}
	}
	clear(keys) // drop references to the run's keys
	s.keys = keys[:0]
	return replaced
}

// resetKnown is reset for a table whose keys this package set itself
// (known, a fixed vocabulary that never grows the table): it deletes them
// by name, and walks the table only if a script added keys of its own.
func (rt *reusedTable) resetKnown(s *tableScratch, known []string) {
	for _, k := range known {
		rt.t.RawSetString(k, glua.LNil)
	}
	rt.reset(s)
}
