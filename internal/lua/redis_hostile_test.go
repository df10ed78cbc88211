package lua

import (
	"context"
	"errors"
	"github.com/backline/backline/internal/testutil"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/backline/backline/internal/config"
)

func TestScriptNeedingRedisIsRefusedWithoutStorageRedis(t *testing.T) {
	nested := `local function later()
  local r = require("nauthilus_redis")
  return r
end
function nauthilus_call_filter(request) return false, 0 end`
	path := filepath.Join(t.TempDir(), "monitoring.lua")
	if err := os.WriteFile(path, []byte(nested), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := NewEngine(Options{Config: config.Lua{Filters: []config.LuaFilter{
		{Name: "plain", ScriptPath: writeModuleScript(t, "plain.lua", "function nauthilus_call_filter() return false, 0 end")},
		{Name: "monitoring", ScriptPath: path},
	}}})
	want := `lua.filters[1].script_path: lua script "monitoring" requires nauthilus_redis, but storage.redis is not configured`
	if err == nil || err.Error() != want {
		t.Fatalf("NewEngine = %v, want %q", err, want)
	}

	e, err := NewEngine(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if _, err := e.NewPasswordScript(path); err == nil || !strings.Contains(err.Error(), "requires nauthilus_redis") {
		t.Errorf("NewPasswordScript = %v, want the nauthilus_redis refusal", err)
	}

	cfg := &config.Config{Lua: config.Lua{Filters: []config.LuaFilter{{Name: "monitoring", ScriptPath: path}}},
		Auth: config.Auth{Passdb: []config.Passdb{{Type: config.PassdbLua, ScriptPath: path}}}}
	err = CompileScripts(cfg)
	var errs config.Errors
	if !errors.As(err, &errs) || len(errs) != 2 {
		t.Fatalf("CompileScripts = %v, want two errors", err)
	}
	for i, key := range []string{"lua.filters[0].script_path", "auth.passdb[0].script_path"} {
		if !strings.Contains(errs[i].Error(), key) || !strings.Contains(errs[i].Error(), "requires nauthilus_redis") {
			t.Errorf("error %d = %q, want key %s and the reason", i, errs[i].Error(), key)
		}
	}
	cfg.Storage.Redis = &config.Redis{Primary: config.RedisNode{Address: "127.0.0.1:6379"}}
	if err := CompileScripts(cfg); err != nil {
		t.Errorf("with storage.redis: %v", err)
	}
}

// A value bigger than the run may hold fails the run (memory budget), not
// the daemon.
func TestRedisHugeValueIsChargedToTheMemoryBudget(t *testing.T) {
	m := miniredis.RunT(t)
	tgt := newRedisTarget(t, m.Addr())
	// Moving 10 MB may outlast the default 0.5 s read timeout on a busy
	// machine (and under -race).
	slow := redis.NewClient(&redis.Options{Addr: m.Addr(), ReadTimeout: time.Minute})
	t.Cleanup(func() { slow.Close() })
	tgt.client = slow
	big := strings.Repeat("x", 5<<20) // more than the 4 MiB budget
	for _, k := range []string{"big", "big2"} {
		if err := tgt.client.Set(context.Background(), tgt.prefix+k, big, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for name, call := range map[string]string{
		"get":      `redis.redis_get("default", P .. "big")`,
		"mget":     `redis.redis_mget("default", P .. "big", P .. "big2")`,
		"pipeline": `redis.redis_pipeline("default", "read", {{"get", P .. "big"}})`,
		"script":   `redis.redis_run_script("default", "return {redis.call('GET', KEYS[1]), redis.call('GET', KEYS[2])}", "", {P .. "big", P .. "big2"})`,
	} {
		t.Run(name, func(t *testing.T) {
			src := `local redis = require("nauthilus_redis")
local P = "{{P}}"
function nauthilus_call_filter(request)
  local ok = pcall(function() return ` + call + ` end)
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end`
			e := redisEngine(t, tgt, writeModuleScript(t, "huge.lua", src), config.LuaConfig{MaxMemory: 4 << 20})
			_, err := e.RunFilters(context.Background(), &Request{Username: "u"})
			var se *ScriptError
			if !errors.As(err, &se) || !se.Memory {
				t.Fatalf("run = %v, want a memory budget stop that pcall cannot catch", err)
			}
		})
	}
}

// silentServer accepts connections and never answers: a Redis that hangs.
func silentServer(t *testing.T) string {
	t.Helper()
	var mu sync.Mutex
	var conns []net.Conn
	// Registered before ServeTCP's cleanup, so it runs after the accept
	// loop has stopped adding connections.
	t.Cleanup(func() {
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return testutil.ServeTCP(t, func(c net.Conn) {
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
	})
}

// A Redis that stops answering holds a script no longer than its
// script_timeout: the call returns at the deadline, the run ends as an
// ordinary timeout and no state is abandoned (its slot is free at once).
func TestBlockedRedisDoesNotOutlastScriptTimeout(t *testing.T) {
	addr := silentServer(t)
	client := redis.NewClient(&redis.Options{Addr: addr, ReadTimeout: time.Minute, WriteTimeout: time.Minute,
		DialTimeout: time.Minute, MaxRetries: -1, Protocol: 2})
	t.Cleanup(func() { client.Close() })
	for name, call := range map[string]string{
		"get":      `redis.redis_get("default", "k")`,
		"pipeline": `redis.redis_pipeline("default", "read", {{"get", "k"}})`,
		"script":   `redis.redis_run_script("default", "return 1", "", {})`,
	} {
		t.Run(name, func(t *testing.T) {
			src := `local redis = require("nauthilus_redis")
function nauthilus_call_filter(request)
  local v, err = ` + call + `
  while true do end -- the deadline stops the VM here
end`
			tgt := &redisTarget{addr: addr, client: client}
			e := redisEngine(t, tgt, writeModuleScript(t, "blocked.lua", src), config.LuaConfig{ScriptTimeout: 200 * time.Millisecond})
			// The call returns at the deadline; on a starved machine its
			// goroutine may run far later than the 50 ms grace. A call that
			// waited for its minute-long read timeout still outlasts 3 s.
			e.abandonGrace = 3 * time.Second
			_, err := e.RunFilters(context.Background(), &Request{Username: "u"})
			var se *ScriptError
			if !errors.As(err, &se) || !se.Timeout {
				t.Fatalf("run = %v, want a timeout", err)
			}
			if s := e.Stats(); s.AbandonedRuns != 0 {
				t.Errorf("abandoned runs = %d; the Redis call did not return at the deadline", s.AbandonedRuns)
			}
		})
	}
}

// Errors a script sees never carry a password: not the server's, not the
// one a script gave register_redis_pool, not the user's.
func TestRedisErrorsCarryNoPassword(t *testing.T) {
	m := miniredis.RunT(t)
	m.RequireAuth("right-server-password")
	client := redis.NewClient(&redis.Options{Addr: m.Addr(), Password: "wrong-Server-Secret", MaxRetries: -1})
	t.Cleanup(func() { client.Close() })
	src := `local redis = require("nauthilus_redis")
function nauthilus_call_filter(request)
  local errs = {}
  local _, err = redis.redis_get("default", "k")
  table.insert(errs, tostring(err))
  _, err = redis.redis_pipeline("default", "write", {{"set", "k", request.password}})
  table.insert(errs, tostring(err))
  _, err = redis.register_redis_pool("p", "standalone", {address = "{{ADDR}}", password = "pool-Secret-pw"})
  table.insert(errs, tostring(err))
  _, err = redis.register_redis_pool("q", "sentinel", {addresses = {"203.0.113.9:26379"}, master_name = "m", sentinel_password = "pool-Secret-pw"})
  table.insert(errs, tostring(err))
  nauthilus_builtin.custom_log_add("errors", table.concat(errs, " | "))
  error(table.concat(errs, " | ") .. " " .. request.password)
end`
	tgt := &redisTarget{addr: m.Addr(), client: client}
	e := redisEngine(t, tgt, writeModuleScript(t, "secrets.lua", src), config.LuaConfig{})
	_, err := e.RunFilters(context.Background(), &Request{Username: "u", Password: "user-Passw0rd"})
	if err == nil {
		t.Fatal("want the script's error")
	}
	text := err.Error()
	if !strings.Contains(text, "WRONGPASS") && !strings.Contains(text, "invalid password") {
		t.Errorf("error %q does not show the authentication failure", text)
	}
	for _, secret := range []string{"wrong-Server-Secret", "right-server-password", "pool-Secret-pw", "user-Passw0rd"} {
		if strings.Contains(text, secret) {
			t.Errorf("error shows %q: %s", secret, text)
		}
	}
}

// Rows and argument tables that cost the script little but the daemon a
// lot (one table referenced a million times) are charged or refused.
func TestRedisHugeArgumentTables(t *testing.T) {
	m := miniredis.RunT(t)
	tgt := newRedisTarget(t, m.Addr())
	for name, c := range map[string]struct {
		body   string
		memory bool
		want   string
	}{
		"pipeline rows": {body: `local row = {"get", "k"}
  local rows = {}
  for i = 1, 200000 do rows[i] = row end
  redis.redis_pipeline("default", "read", rows)`, memory: true},
		"mget keys": {body: `local keys = {}
  for i = 1, 100001 do keys[i] = "k" end
  redis.redis_mget("default", keys)`, want: "at most 100000 are sent in one command"},
		"pipeline row table": {body: `local keys = {}
  for i = 1, 100001 do keys[i] = "k" end
  local res, err = redis.redis_pipeline("default", "read", {{"mget", keys}})
  error(err)`, want: "pipeline command mget: a table of 100001 values"},
	} {
		t.Run(name, func(t *testing.T) {
			src := `local redis = require("nauthilus_redis")
function nauthilus_call_filter(request)
  ` + c.body + `
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end`
			e := redisEngine(t, tgt, writeModuleScript(t, "args.lua", src), config.LuaConfig{MaxMemory: 16 << 20})
			_, err := e.RunFilters(context.Background(), &Request{Username: "u"})
			var se *ScriptError
			if !errors.As(err, &se) || se.Memory != c.memory || !strings.Contains(se.Msg, c.want) {
				t.Fatalf("run = %v, want memory stop %v and %q", err, c.memory, c.want)
			}
		})
	}
}

// A script that reaches nauthilus_redis in a way the load check cannot see
// (a computed module name) gets errors, not a crash, without storage.redis.
func TestRedisWithoutStorageRedisAnswersErrors(t *testing.T) {
	src := `local r = require("nauthilus_" .. "redis")
function nauthilus_call_filter(request)
  local v, err = r.redis_get("default", "k")
  local h, err2 = r.get_redis_connection("default")
  local ok, err3 = r.register_redis_pool("p", "standalone", {address = "127.0.0.1:6379"})
  nauthilus_builtin.custom_log_add("errs", tostring(err) .. "|" .. tostring(err2) .. "|" .. tostring(err3))
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end`
	out, err, _ := runOne(t, src, engineSetup{})
	if err != nil {
		t.Fatal(err)
	}
	const e = "nauthilus_redis: storage.redis is not configured"
	if got, _ := logValue(out, "errs"); got != e+"|"+e+"|"+e {
		t.Errorf("errors = %v", got)
	}
}

// A script cannot make the daemon keep more than maxRedisPools clients.
func TestRedisPoolCountIsBounded(t *testing.T) {
	m := miniredis.RunT(t)
	tgt := newRedisTarget(t, m.Addr())
	src := `local redis = require("nauthilus_redis")
function nauthilus_call_filter(request)
  local ok_count, last_err = 0, nil
  for i = 1, 20 do
    local ok, err = redis.register_redis_pool("p" .. i, "standalone", {address = "{{ADDR}}", min_idle_conns = 1})
    if ok == "OK" then ok_count = ok_count + 1 else last_err = err end
  end
  nauthilus_builtin.custom_log_add("ok", ok_count)
  nauthilus_builtin.custom_log_add("err", last_err)
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end`
	e := redisEngine(t, tgt, writeModuleScript(t, "pools.lua", src), config.LuaConfig{})
	out, err := e.RunFilters(context.Background(), &Request{Username: "u"})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := logValue(out, "ok"); got != float64(maxRedisPools) {
		t.Errorf("registered %v pools, want %d", got, maxRedisPools)
	}
	if got, _ := logValue(out, "err"); got != "register_redis_pool: at most 16 pools may be registered" {
		t.Errorf("error = %v", got)
	}
}
