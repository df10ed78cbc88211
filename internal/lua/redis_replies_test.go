package lua

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/state"
)

// hugeReplySize is each hostile value's size: 8 MiB against a 1 MiB budget.
const hugeReplySize = 8 << 20

// seedHugeKeys writes an 8 MiB string, an 8 MiB hash and an 8 MiB list
// under tgt's prefix, on a client of its own (tgt's client must dial its
// first connection after SetRedis, as the daemon's does).
func seedHugeKeys(t *testing.T, tgt *redisTarget) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: tgt.addr, ReadTimeout: time.Minute, WriteTimeout: time.Minute})
	defer c.Close()
	ctx := context.Background()
	chunk := strings.Repeat("v", 4<<10)
	pipe := c.Pipeline()
	pipe.Set(ctx, tgt.prefix+"big", strings.Repeat("x", hugeReplySize), 0)
	pipe.Set(ctx, tgt.prefix+"small", "fine", 0)
	for i := range hugeReplySize / len(chunk) {
		pipe.HSet(ctx, tgt.prefix+"hash", "f"+strconv.Itoa(i), chunk)
		pipe.RPush(ctx, tgt.prefix+"list", chunk)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestRedisReplyOverBudgetIsNotRead: with a 1 MiB max_memory, an 8 MiB
// GET, HGETALL, LRANGE 0 -1, script reply and pipeline row each stop the
// run with a memory budget error naming the command and the limit; the
// reply is dropped as it streams in (the process allocates far less than
// its size), and the connection serves the next run. Before the guard,
// go-redis read each reply whole and the charge came after.
func TestRedisReplyOverBudgetIsNotRead(t *testing.T) {
	eachRedis(t, func(t *testing.T, tgt *redisTarget) {
		seedHugeKeys(t, tgt)
		inProcess := strings.HasSuffix(t.Name(), "/miniredis") // the fixture's Redis is another process
		noisy := inProcess && raceEnabled
		for _, tc := range []struct {
			name, call, command string
			// serverAllocates: miniredis formats a huge value in this
			// process, so the heap bound cannot tell its work from ours
			// (nor, under -race, for any reply: its formatting buffers
			// come from a sync.Pool, which then drops items at random).
			serverAllocates bool
		}{
			{"get", `redis.redis_get("default", P .. "big")`, "GET", true},
			{"hgetall", `redis.redis_hgetall("default", P .. "hash")`, "HGETALL", false},
			{"lrange", `redis.redis_lrange("default", P .. "list", 0, -1)`, "LRANGE", false},
			{"pipeline", `redis.redis_pipeline("default", "read", {{"get", P .. "small"}, {"lrange", P .. "list", 0, -1}})`, "LRANGE", false},
			{"script", `redis.redis_run_script("default", "return string.rep('y', 8388608)", "", {})`, "EVAL", true},
			// 200000 small integers: few bytes on the wire, but a slice
			// entry and a table slot each.
			{"script-table", `redis.redis_run_script("default", "local t = {} for i = 1, 200000 do t[i] = i end return t", "", {})`, "EVAL", true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				// A client of one connection per engine (SetRedis guards
				// what it dials from then on).
				slow := redis.NewClient(&redis.Options{Addr: tgt.addr, ReadTimeout: time.Minute, PoolSize: 1})
				t.Cleanup(func() { slow.Close() })
				tgt := &redisTarget{addr: tgt.addr, client: slow, prefix: tgt.prefix}
				src := `local redis = require("nauthilus_redis")
local P = "{{P}}"
function nauthilus_call_filter(request)
  if request.username == "small" then
    local v, err = redis.redis_get("default", P .. "small")
    assert(v == "fine", tostring(err))
  else
    local ok = pcall(function() return ` + tc.call + ` end)
  end
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end`
				e := redisEngine(t, tgt, writeModuleScript(t, "huge.lua", src), config.LuaConfig{MaxMemory: 1 << 20})
				ctx := context.Background()
				if _, err := e.RunFilters(ctx, &Request{Username: "small"}); err != nil {
					t.Fatal(err)
				}
				guard := e.host.RedisReplyGuard()
				refused := guard.Refused()
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				_, err := e.RunFilters(ctx, &Request{Username: "huge"})
				runtime.ReadMemStats(&after)
				var se *ScriptError
				if !errors.As(err, &se) || !se.Memory || !strings.Contains(se.Msg, "the reply to "+tc.command+" is larger than 1MiB") {
					t.Fatalf("run = %v; want a memory stop naming %s and the 1MiB limit", err, tc.command)
				}
				if guard.Refused() != refused+1 {
					t.Errorf("guard refused %d replies, want 1", guard.Refused()-refused)
				}
				grew := int64(after.TotalAlloc - before.TotalAlloc)
				if !(inProcess && tc.serverAllocates) && !noisy && grew > hugeReplySize/4 /* 2 MiB: the guard holds at most the 1 MiB limit */ {
					t.Errorf("the run allocated %d bytes for a refused reply of %d", grew, hugeReplySize)
				}
				// The connection (the pool has one) answers the next run.
				misses := slow.PoolStats().Misses
				if _, err := e.RunFilters(ctx, &Request{Username: "small"}); err != nil {
					t.Fatalf("next run: %v", err)
				}
				if got := slow.PoolStats().Misses; got != misses {
					t.Errorf("the connection was replaced (%d new)", got-misses)
				}
				t.Logf("%s: allocated %d bytes during the refused run", tc.name, grew)
			})
		}
	})
}

// TestBudgetMetricsAreExported: the reply guard's refusals and the hash
// workers in use are on the Host's registry.
func TestBudgetMetricsAreExported(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := NewHost()
	h.Registerer = reg
	m := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	defer c.Close()
	h.SetRedis(c, nil, nil)
	h.SetRedis(c, nil, nil) // a second time finds the metric registered
	hashPoolOf(h).running.Add(1)
	defer hashPoolOf(h).running.Add(-1)
	h.RedisReplyGuard().SetLimit(4 << 10)
	m.Set("k", strings.Repeat("x", 10<<10))
	if _, _, ok := state.IsReplyTooLarge(c.Get(context.Background(), "k").Err()); !ok {
		t.Fatal("not refused")
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		got[f.GetName()] = f.GetMetric()[0].GetCounter().GetValue() + f.GetMetric()[0].GetGauge().GetValue()
	}
	if got["backline_lua_redis_replies_refused_total"] != 1 || got["backline_lua_password_hashes_running"] != 1 {
		t.Errorf("metrics = %v", got)
	}
}
