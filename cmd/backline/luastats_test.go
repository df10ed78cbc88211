package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/lua"
)

// TestLuaStatsSumKeepsClosedEngines: a reload closes the old Lua engine;
// the run and failure counters must carry on, not fall back (a counter that
// drops would read as a reset and hide failures from rate()).
func TestLuaStatsSumKeepsClosedEngines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.lua")
	src := `function nauthilus_call_filter(r)
  if r.username == "bad" then error("boom") end
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end`
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	newEngine := func() *lua.Engine {
		e, err := lua.NewEngine(lua.Options{Config: config.Lua{
			Filters: []config.LuaFilter{{Name: "f", ScriptPath: path}},
			Config:  config.LuaConfig{VMPoolSize: 1},
		}})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	run := func(e *lua.Engine, users ...string) {
		for _, u := range users {
			_, _ = e.RunFilters(context.Background(), &lua.Request{Username: u})
		}
	}

	sum := newLuaStatsSum()
	old := newEngine()
	sum.add(old)
	run(old, "alice", "bad", "bad")
	sum.fold(old)
	old.Close()
	cur := newEngine()
	defer cur.Close()
	sum.add(cur)
	run(cur, "alice", "bad")

	got := sum.stats()
	if got.Runs != 5 || got.Errors != 3 || got.Timeouts != 0 || got.MemoryStops != 0 {
		t.Fatalf("summed stats = %+v, want 5 runs, 3 errors", got)
	}
}
