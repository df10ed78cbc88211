package lua

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/testfixture"
)

// benchMonitoringScript is a monitoring filter's Redis round: HGET of the
// user's backend (a hit after the first run) and the same selection as
// hashSelectScript.
const benchMonitoringScript = `
local nauthilus_backend = require("nauthilus_backend")
local nauthilus_redis = require("nauthilus_redis")
function nauthilus_call_filter(request)
    local servers = nauthilus_backend.get_backend_servers()
    local conn = nauthilus_redis.get_redis_connection("default")
    local key = "{{P}}ds:" .. request.username
    local stored, err = nauthilus_redis.redis_hget(conn, key, "imap")
    local chosen
    if stored ~= nil then
        for _, s in ipairs(servers) do
            if s.host .. ":" .. s.port == stored then chosen = s break end
        end
    end
    if chosen == nil then
        chosen = servers[1]
        nauthilus_redis.redis_hset(conn, key, "imap", chosen.host .. ":" .. chosen.port)
    end
    nauthilus_backend.select_backend_server(chosen.host, chosen.port)
    return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end`

// BenchmarkRedisMonitoringFilter runs benchMonitoringScript against the
// fixture's Redis (another process); compare with BenchmarkRunFilter.
func BenchmarkRedisMonitoringFilter(b *testing.B) {
	fx := testfixture.Load(b)
	r := defaultStorage(fx.Addr("REDIS"))
	client := redis.NewClient(&redis.Options{Addr: r.Primary.Address, DialTimeout: r.DialTimeout, ReadTimeout: r.ReadTimeout,
		WriteTimeout: r.WriteTimeout, PoolTimeout: r.PoolTimeout, MaxRetries: 1})
	defer client.Close()
	host := NewHost()
	host.SetRedis(client, r, nil)
	path := b.TempDir() + "/bench.lua"
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(benchMonitoringScript, "{{P}}", "backline-bench:")), 0o600); err != nil {
		b.Fatal(err)
	}
	e, err := NewEngine(Options{
		Config: config.Lua{Filters: []config.LuaFilter{{Name: "bench", ScriptPath: path}}, Config: config.LuaConfig{VMPoolSize: 4}},
		Health: tenTargets(), Host: host,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	ctx := context.Background()
	req := &Request{Username: "user1@example.org", Password: "pw", Authenticated: true}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.RunFilters(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
	client.Del(ctx, "backline-bench:ds:user1@example.org")
}
