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

// reset empties the table for the next run, or replaces it (see above).
// Its metatable is reset by the caller, who knows what it must be.
//
// It walks the table with Next rather than ForEach: Next hands out the keys
// gopher-lua keeps boxed, ForEach boxes every string key again.
func (rt *reusedTable) reset(s *tableScratch) {
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
	if fresh || rt.cleared > reuseMaxKeys || rt.clearedBytes > reuseMaxKeyBytes {
		rt.t = newTable(rt.hcap)
		rt.cleared, rt.clearedBytes = 0, 0
	} else {
		for _, k := range keys {
			rt.t.RawSetString(string(k.(glua.LString)), glua.LNil)
		}
	}
	clear(keys) // drop references to the run's keys
	s.keys = keys[:0]
}
