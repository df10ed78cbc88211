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
	for i := range 20000 {
		m.HSet(tgt.prefix+"h", "f"+strconv.Itoa(i), "v")
	}
	src := `local redis = require("nauthilus_redis")
local P = "{{P}}"
function nauthilus_call_filter(request)
  local all = redis.redis_hgetall("default", P .. "h")
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end`
	e := redisEngine(t, tgt, writeModuleScript(t, "hgetall.lua", src), config.LuaConfig{MaxMemory: 4 << 20})
	_, err := e.RunFilters(context.Background(), &Request{Username: "u"})
	var se *ScriptError
	if !errors.As(err, &se) || !se.Memory || !strings.Contains(se.Msg, "a result of") {
		t.Fatalf("run = %v, want a memory stop in redis_hgetall", err)
	}
}
