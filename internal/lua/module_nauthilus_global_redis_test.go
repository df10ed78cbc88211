package lua

import (
	"strings"
	"testing"

	"github.com/backline/backline/internal/config"
)

// The 1.0 table's Redis calls against miniredis and the fixture's Redis.
func TestLegacyGlobalRedis(t *testing.T) {
	eachRedis(t, func(t *testing.T, tgt *redisTarget) {
		runCorpus(t, redisEngine(t, tgt, "legacy_global_redis.lua", config.LuaConfig{}), "alice")
	})
}

// A 1.0 script that calls nauthilus.redis_* is refused at load without
// storage.redis, naming the script, like one requiring nauthilus_redis.
func TestLegacyRedisRefusedWithoutRedis(t *testing.T) {
	path := writeModuleScript(t, "legacy_redis.lua", `function nauthilus_call_filter(r)
  local v = nauthilus.redis_get_str("k")
  return nauthilus.FILTER_ACCEPT, nauthilus.FILTER_RESULT_OK
end`)
	_, err := NewEngine(Options{Config: config.Lua{Filters: []config.LuaFilter{{Name: "legacy_redis", ScriptPath: path}}}})
	if err == nil || !strings.Contains(err.Error(), `lua script "legacy_redis" requires nauthilus_redis, but storage.redis is not configured`) {
		t.Fatalf("err %v", err)
	}
}
