package lua

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"

	"github.com/backline/backline/internal/config"
)

// TestRedisHashReplyChargedAtItsTableCost: a hash reply becomes a Lua
// hash entry per field (~300 bytes in gopher-lua) but was charged 40
// bytes plus its text; 20000 short fields built ~6 MB under a 4 MiB
// budget. It is now charged at luaBuild's measured cost before it is built.
func TestRedisHashReplyChargedAtItsTableCost(t *testing.T) {
	m := miniredis.RunT(t)
	tgt := newRedisTarget(t, m.Addr())
	// 5,000 short fields: a reply of about 75 KB (about 555 KB to the
	// reply guard, which counts 48 bytes per element: well under the
	// budget even after a measurement of the fresh state, ~230 KB) that
	// becomes a table of about 1.6 MB. With 20,000 fields the script
	// ignored nil, err, and a read that outlasted the client's 0.5 s read
	// timeout on a loaded machine under -race passed as "no stop" (CI);
	// newRedisTarget's client now waits a minute, and an error raises.
	for i := range 5000 {
		m.HSet(tgt.prefix+"h", "f"+strconv.Itoa(i), "v")
	}
	src := `local redis = require("nauthilus_redis")
local P = "{{P}}"
function nauthilus_call_filter(request)
  local all, err = redis.redis_hgetall("default", P .. "h")
  if err then error("redis_hgetall: " .. tostring(err)) end
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end`
	e := redisEngine(t, tgt, writeModuleScript(t, "hgetall.lua", src), config.LuaConfig{MaxMemory: 1 << 20})
	_, err := e.RunFilters(context.Background(), &Request{Username: "u"})
	var se *ScriptError
	if !errors.As(err, &se) || !se.Memory || !strings.Contains(se.Msg, "a result of") {
		t.Fatalf("run = %v, want a memory stop in redis_hgetall", err)
	}
}
