package lua

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	glua "github.com/yuin/gopher-lua"

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
				// The whole budget, or (when the run was charged for
				// something first, the pipeline's rows) what it had left.
				if !errors.As(err, &se) || !se.Memory || !strings.Contains(se.Msg, "the reply to "+tc.command+" is larger than ") || !strings.Contains(se.Msg, "1MiB") {
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
	if got["backline_lua_redis_replies_refused_total"] != 1 || got["backline_lua_password_hashes_running"] != 1 ||
		got["backline_lua_password_hash_workers"] != float64(config.DefaultLuaPasswordHashWorkers()) {
		t.Errorf("metrics = %v", got)
	}
}

// measureNextGlobal is a test global that makes every run of e measure
// itself at its next instruction, as the watchdog's request does, so a
// test knows what the run was last measured to hold.
func measureNextGlobal(e *Engine) map[string]glua.LGFunction {
	return map[string]glua.LGFunction{"measure_next": func(*glua.LState) int {
		e.watch.mu.Lock()
		defer e.watch.mu.Unlock()
		for r := range e.watch.runs {
			r.measureDue.Store(true)
		}
		return 0
	}}
}

// TestRedisReplyOverRemainingBudgetIsNotRead: with a 1 MiB max_memory, a
// run holding 512 KiB and its state (measured) is refused a 512 KiB reply unread, by
// the guard, with the same error as a reply over the whole budget but
// naming what the run had left: through the automatic pipeline (GET),
// one command on its own (EVAL) and a script's pipeline. Before, the
// limit was the whole budget, so the reply was read (nearly 1.3 MiB on
// the heap for a 1 MiB run) and only then refused by the charge. Replies
// under the floor pass (the GET of a short value, after the refusal too);
// a run holding little reads the 512 KiB reply.
func TestRedisReplyOverRemainingBudgetIsNotRead(t *testing.T) {
	eachRedis(t, func(t *testing.T, tgt *redisTarget) {
		ctx := context.Background()
		// Seeded on a client of its own: the engine's must dial its first
		// connection after SetRedis guards it, as the daemon's does.
		seed := redis.NewClient(&redis.Options{Addr: tgt.addr})
		defer seed.Close()
		if err := seed.Set(ctx, tgt.prefix+"mid", strings.Repeat("m", 512<<10), 0).Err(); err != nil {
			t.Fatal(err)
		}
		seed.Set(ctx, tgt.prefix+"small", "fine", 0)
		for _, tc := range []struct{ name, call, command string }{
			{"get", `redis.redis_get("default", P .. "mid")`, "GET"},
			{"script", `redis.redis_run_script("default", "return string.rep('y', 524288)", "", {})`, "EVAL"},
			{"pipeline", `redis.redis_pipeline("default", "read", {{"get", P .. "small"}, {"get", P .. "mid"}})`, "GET"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				src := `local redis = require("nauthilus_redis")
local P = "{{P}}"
function nauthilus_call_filter(request)
  local hold = {}
  if request.username == "full" then
    for i = 1, 8 do hold[i] = string.rep(string.char(64 + i), 64 * 1024) end
  end
  measure_next()
  local v, err = redis.redis_get("default", P .. "small")
  assert(v == "fine", tostring(err))
  local ok, res = pcall(function() return ` + tc.call + ` end)
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end`
				fresh := redis.NewClient(&redis.Options{Addr: tgt.addr})
				t.Cleanup(func() { fresh.Close() })
				tgt := &redisTarget{addr: tgt.addr, client: fresh, prefix: tgt.prefix}
				e := redisEngine(t, tgt, writeModuleScript(t, "remaining.lua", src), config.LuaConfig{MaxMemory: 1 << 20})
				e.testGlobals = measureNextGlobal(e)
				guard := e.host.RedisReplyGuard()
				if _, err := e.RunFilters(ctx, &Request{Username: "light"}); err != nil {
					t.Fatalf("a run holding little: %v", err)
				}
				refused, stops := guard.Refused(), e.Stats().MemoryStops
				_, err := e.RunFilters(ctx, &Request{Username: "full"})
				var se *ScriptError
				var left int64
				if !errors.As(err, &se) || !se.Memory || !strings.HasSuffix(se.Msg, "; lua.config.max_memory); it was not read") {
					t.Fatalf("run = %v; want the guard's refusal", err)
				}
				if _, err := fmt.Sscanf(se.Msg[strings.Index(se.Msg, "the reply to"):], "the reply to "+tc.command+
					" is larger than the %d bytes the run had left of the 1MiB it may hold", &left); err != nil {
					t.Fatalf("%v: %q names neither %s nor what was left of 1MiB", err, se.Msg, tc.command)
				}
				if left <= replyFloor || left > 1<<20-512<<10 {
					t.Errorf("refused at %d bytes left; want what was left of 1MiB after 512KiB", left)
				}
				t.Logf("refused at %d bytes left", left)
				if guard.Refused() != refused+1 || e.Stats().MemoryStops != stops+1 {
					t.Errorf("guard refused %d, memory stops %d; want 1 each", guard.Refused()-refused, e.Stats().MemoryStops-stops)
				}
				if _, err := e.RunFilters(ctx, &Request{Username: "light"}); err != nil {
					t.Errorf("the next run: %v", err)
				}
			})
		}
	})
}

// TestReplyLimitIsTheRemainingBudget: the limit each command asks for is
// max_memory less what the run holds (measured and charged since), never
// below replyFloor; a run with its whole budget asks for nothing extra.
func TestReplyLimitIsTheRemainingBudget(t *testing.T) {
	r := &scriptRun{engine: &Engine{maxMemory: 1 << 20}, ctx: context.Background()}
	if r.replyLimit() != 1<<20 || r.replyCtx() != r.ctx {
		t.Errorf("fresh run: limit %d", r.replyLimit())
	}
	r.measured.Store(600 << 10)
	r.retained = 100 << 10
	if got := r.replyLimit(); got != 324<<10 {
		t.Errorf("holding 700KiB: limit %d, want %d", got, 324<<10)
	}
	r.retained = 2 << 20 // over budget (the run is being stopped)
	if got := r.replyLimit(); got != replyFloor {
		t.Errorf("over budget: limit %d, want the floor %d", got, replyFloor)
	}
}
