package lua

import (
	"context"
	"fmt"
	"testing"

	"github.com/backline/backline/internal/config"
)

// cachePopAllScript sets a lone value, a list and a value that is a
// table (for "setup"), or pops each and a missing key, logging what
// cache_pop_all returned: the list as text, its length and the second
// result.
const cachePopAllScript = `
local cache = require("nauthilus_cache")
local function show(v, err)
  local parts = {}
  for i, x in ipairs(v) do
    if type(x) == "table" then x = "{" .. table.concat(x, ";") .. "}" end
    parts[i] = tostring(x)
  end
  return type(v) .. ":" .. #v .. ":" .. table.concat(parts, ",") .. ":" .. tostring(err)
end
function nauthilus_call_filter(request)
  if request.username == "setup" then
    cache.cache_set("lone", "v", 60)
    cache.cache_set("tbl", {"x", "y"}, 60)
    cache.cache_push("list", "a")
    cache.cache_push("list", "b")
  else
    for _, k in ipairs({"lone", "tbl", "list", "missing"}) do
      nauthilus_builtin.custom_log_add(k, show(cache.cache_pop_all(k)))
    end
  end
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end
`

// A dry run of cache_pop_all answers exactly what a real one does (a lone
// value as a list of one, a stored array as the list itself, a missing key as
// an empty table, then nil) and leaves the entries; the real one removes
// them.
func TestReviewCachePopAllDryRunAnswersAsReal(t *testing.T) {
	e, logs := newEngine(t, engineSetup{filters: []config.LuaFilter{filter(t, "popall", cachePopAllScript)}})
	run := func(user string, dry bool) map[string]string {
		t.Helper()
		out, err := e.RunFilters(context.Background(), &Request{Username: user, DryRun: dry})
		if err != nil {
			t.Fatalf("%s dry %v: %v\n%s", user, dry, err, logs.String())
		}
		got := map[string]string{}
		for _, k := range []string{"lone", "tbl", "list", "missing"} {
			v, _ := logValue(out, k)
			got[k] = fmt.Sprint(v)
		}
		return got
	}
	run("setup", false)
	want := map[string]string{
		"lone":    "table:1:v:nil",
		"tbl":     "table:2:x,y:nil",
		"list":    "table:2:a,b:nil",
		"missing": "table:0::nil",
	}
	dry1 := run("pop", true)
	dry2 := run("pop", true)
	real := run("pop", false)
	after := run("pop", false)
	for k, w := range want {
		if dry1[k] != w || dry2[k] != w || real[k] != w {
			t.Errorf("%s: dry %q, dry again %q, real %q; want %q", k, dry1[k], dry2[k], real[k], w)
		}
		if after[k] != want["missing"] {
			t.Errorf("%s after a real pop: %q, want it gone", k, after[k])
		}
	}
}
