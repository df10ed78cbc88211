package lua

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
)

// A failed dry run still says what it skipped: every filter that ended
// reports its suppressed calls with the error (explain shows them with its
// tempfail answer), the skipped call before the failure included.
func TestFailedDryRunReportsWhatItSkipped(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	failing := write("failing.lua", `
local cache = require("nauthilus_cache")
function nauthilus_call_filter(request)
  cache.cache_set("k", "v", 60)
  error("boom after a skipped write")
end`)
	writer := write("writer.lua", `
local cache = require("nauthilus_cache")
function nauthilus_call_filter(request)
  cache.cache_set("w", "v", 60)
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end`)
	engine := func(filters ...config.LuaFilter) *Engine {
		e, err := NewEngine(Options{Config: config.Lua{Filters: filters,
			Config: config.LuaConfig{ScriptTimeout: time.Minute, VMPoolSize: 4}},
			Logger: newTestLogger(&syncBuffer{}), Host: NewHost()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(e.Close)
		return e
	}
	for _, tc := range []struct {
		name    string
		filters []config.LuaFilter
	}{
		{"one filter", []config.LuaFilter{{Name: "failing", ScriptPath: failing}}},
		{"parallel filters", []config.LuaFilter{{Name: "writer", ScriptPath: writer}, {Name: "failing", ScriptPath: failing}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := engine(tc.filters...)
			_, err := e.RunFilters(context.Background(), &Request{Username: "alice", DryRun: true})
			fe, ok := errors.AsType[*FilterError](err)
			if !ok {
				t.Fatalf("error %v (%T), want a *FilterError", err, err)
			}
			if !strings.Contains(err.Error(), "boom after a skipped write") {
				t.Errorf("error text %q lost the script's error", err)
			}
			if !slices.Contains(fe.Suppressed, "failing: nauthilus_cache.cache_set") {
				t.Errorf("suppressed %q, want the failing filter's cache_set", fe.Suppressed)
			}
			if _, ok := errors.AsType[*ScriptError](err); !ok {
				t.Errorf("the ScriptError is no longer reachable with errors.As")
			}
			// A real run fails the same way but has nothing to report.
			_, err = e.RunFilters(context.Background(), &Request{Username: "alice"})
			if _, ok := errors.AsType[*FilterError](err); ok || err == nil {
				t.Errorf("real run: %v, want a plain error", err)
			}
		})
	}
}
