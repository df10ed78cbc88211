package lua

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/state"
	"github.com/backline/backline/internal/testfixture"
)

// redisTarget is a Redis the module tests run against: miniredis for the
// fast suite, the fixture's redis-server for the real one.
type redisTarget struct {
	addr   string
	client redis.UniversalClient
	// prefix starts every key a test writes (the real Redis is shared).
	prefix string
}

// eachRedis runs fn against miniredis and against the fixture's Redis
// (skipped only in the short suite).
func eachRedis(t *testing.T, fn func(t *testing.T, tgt *redisTarget)) {
	t.Run("miniredis", func(t *testing.T) {
		m := miniredis.RunT(t)
		fn(t, newRedisTarget(t, m.Addr()))
	})
	t.Run("redis", func(t *testing.T) {
		fx := testfixture.Load(t)
		fn(t, newRedisTarget(t, fx.Addr("REDIS")))
	})
}

// The client's timeouts are a minute, not storage.redis's defaults (0.5 s
// reads): no test here is about them, and on a loaded CI machine under
// -race a reply of a few thousand elements (miniredis writing it, go-redis
// and the reply guard reading it) outlasted 0.5 s: the script then saw an
// i/o timeout instead of what the test asserts (about one run in ten of
// TestRedisHashReplyChargedAtItsTableCost with the machine at load 40).
// storage.redis's configuration (defaultStorage) keeps the defaults.
func newRedisTarget(t *testing.T, addr string) *redisTarget {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: 1, DialTimeout: time.Minute,
		ReadTimeout: time.Minute, WriteTimeout: time.Minute, PoolTimeout: time.Minute})
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	tgt := &redisTarget{addr: addr, client: c, prefix: "backline-test:lua:" + hex.EncodeToString(b) + ":"}
	t.Cleanup(func() {
		ctx := context.Background()
		keys, _ := c.Keys(ctx, tgt.prefix+"*").Result()
		if len(keys) > 0 {
			c.Del(ctx, keys...)
		}
		c.Close()
	})
	return tgt
}

// redisEngine builds an engine whose Host has tgt as "default" (nil: no
// Redis) with one filter, the corpus script name with {{P}} and {{ADDR}}
// filled in.
func redisEngine(t *testing.T, tgt *redisTarget, script string, cfg config.LuaConfig) *Engine {
	t.Helper()
	return redisEngineWith(t, tgt, script, cfg, nil, nil)
}

// redisEngineWith is redisEngine with storage.redis's configuration (nil:
// a standalone primary at tgt.addr) and extra allowed pool addresses.
func redisEngineWith(t *testing.T, tgt *redisTarget, script string, cfg config.LuaConfig, storage *config.Redis, allowed []string) *Engine {
	t.Helper()
	file := script
	if !filepath.IsAbs(file) {
		file = filepath.Join("testdata", "modules", script)
	}
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	host := NewHost()
	text := string(src)
	if tgt != nil {
		if storage == nil {
			storage = defaultStorage(tgt.addr)
		}
		host.SetRedis(tgt.client, storage, allowed)
		text = strings.NewReplacer("{{P}}", tgt.prefix, "{{ADDR}}", tgt.addr).Replace(text)
	}
	t.Cleanup(host.CloseRedisPools)
	script = filepath.Base(script)
	path := filepath.Join(t.TempDir(), script)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if cfg.ScriptTimeout == 0 {
		cfg.ScriptTimeout = config.DefaultLuaScriptTimeout
	}
	if cfg.VMPoolSize == 0 {
		cfg.VMPoolSize = 2
	}
	e, err := NewEngine(Options{Config: config.Lua{Filters: []config.LuaFilter{{Name: strings.TrimSuffix(script, ".lua"), ScriptPath: path}},
		Config: cfg}, Host: host, Logger: newTestLogger(&syncBuffer{})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

// runCorpus runs a corpus script whose assertions raise on failure.
func runCorpus(t *testing.T, e *Engine, username string) {
	t.Helper()
	out, err := e.RunFilters(context.Background(), &Request{Username: username, Password: "user-Passw0rd", Authenticated: true})
	if err != nil {
		t.Fatal(err)
	}
	if out.Reject {
		t.Fatal("corpus script rejected")
	}
}

func TestRedisStringsKeysHashesSets(t *testing.T) {
	eachRedis(t, func(t *testing.T, tgt *redisTarget) {
		runCorpus(t, redisEngine(t, tgt, "redis_strings.lua", config.LuaConfig{}), "u")
		ttl, err := tgt.client.TTL(context.Background(), tgt.prefix+"ttl").Result()
		if err != nil || ttl <= 50*time.Second || ttl > 60*time.Second {
			t.Errorf("TTL after redis_set(h, k, v, 60) and keepttl = %v, %v; want about 60s", ttl, err)
		}
		if ttl, _ := tgt.client.TTL(context.Background(), tgt.prefix+"px").Result(); ttl <= 0 {
			t.Errorf("px option set no TTL: %v", ttl)
		}
	})
}

func TestRedisSortedListsHyperLogLog(t *testing.T) {
	eachRedis(t, func(t *testing.T, tgt *redisTarget) {
		runCorpus(t, redisEngine(t, tgt, "redis_sorted.lua", config.LuaConfig{}), "u")
	})
}

func TestRedisHandlesAndPools(t *testing.T) {
	eachRedis(t, func(t *testing.T, tgt *redisTarget) {
		runCorpus(t, redisEngine(t, tgt, "redis_handles.lua", config.LuaConfig{}), "u")
	})
}

func TestRedisScriptsSurviveScriptFlush(t *testing.T) {
	eachRedis(t, func(t *testing.T, tgt *redisTarget) {
		e := redisEngine(t, tgt, "redis_scripts.lua", config.LuaConfig{})
		runCorpus(t, e, "first")
		if err := tgt.client.ScriptFlush(context.Background()).Err(); err != nil {
			t.Fatal(err)
		}
		runCorpus(t, e, "second") // runs by name: NOSCRIPT, upload again, retry
	})
}

func TestRedisPipeline(t *testing.T) {
	eachRedis(t, func(t *testing.T, tgt *redisTarget) {
		runCorpus(t, redisEngine(t, tgt, "redis_pipeline.lua", config.LuaConfig{}), "u")
	})
}

func TestRedisPipelineRetriesAfterScriptFlush(t *testing.T) {
	eachRedis(t, func(t *testing.T, tgt *redisTarget) {
		src := `local redis = require("nauthilus_redis")
function nauthilus_call_filter(request)
  if request.username == "first" then
    redis.redis_upload_script("default", "return ARGV[1]", "{{P}}echo")
  end
  local res, err = redis.redis_pipeline("default", "write", {{"run_script", "{{P}}echo", {}, {"hello"}}})
  if err ~= nil or res[1].value ~= "hello" then
    error("pipeline run_script: " .. tostring(err) .. " " .. tostring(res and res[1].err))
  end
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end`
		e := redisEngine(t, tgt, writeModuleScript(t, "redis_pipe_flush.lua", src), config.LuaConfig{})
		runCorpus(t, e, "first")
		tgt.client.ScriptFlush(context.Background())
		runCorpus(t, e, "second")
	})
}

// writeModuleScript writes an inline script for redisEngine.
func writeModuleScript(t *testing.T, name, src string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// `backline lua test --redis` runs a Redis filter offline; without it the
// filter is refused as under serve.
func TestRedisFilterOffline(t *testing.T) {
	m := miniredis.RunT(t)
	tgt := newRedisTarget(t, m.Addr())
	path := writeModuleScript(t, "offline.lua", `local redis = require("nauthilus_redis")
function nauthilus_call_filter(request)
  redis.redis_set("default", "offline", request.username)
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end`)
	if _, err := RunOffline(context.Background(), OfflineOptions{ScriptPath: path, Request: &Request{Username: "bob"}}); err == nil ||
		!strings.Contains(err.Error(), "requires nauthilus_redis") {
		t.Errorf("without Redis: %v", err)
	}
	host := NewHost()
	host.SetRedis(tgt.client, nil, nil)
	if _, err := RunOffline(context.Background(), OfflineOptions{ScriptPath: path, Request: &Request{Username: "bob"}, Host: host}); err != nil {
		t.Fatal(err)
	}
	if got, _ := m.Get("offline"); got != "bob" {
		t.Errorf("offline run wrote %q", got)
	}
}

// TestRedisClusterAndSentinel: "default" on the fixture's Redis Cluster
// (keys over three primaries, pipelines across slots, scripts on the key's
// node), and pools in sentinel and sentinel_replica mode registered on the
// fixture's Sentinel (allowed by lua.config.redis_allowed_addresses).
func TestRedisClusterAndSentinel(t *testing.T) {
	fx := testfixture.Load(t)
	addrs := strings.Split(fx.Get("REDIS_CLUSTER_ADDRESSES"), ",")
	storage := &config.Redis{Cluster: config.RedisCluster{Addresses: addrs}, DialTimeout: time.Second,
		ReadTimeout: time.Second, WriteTimeout: time.Second, PoolTimeout: time.Second}
	cluster, err := state.NewRedisClient(storage)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	tgt := &redisTarget{addr: addrs[0], client: cluster, prefix: "backline-test:lua:" + hex.EncodeToString(b) + ":"}
	t.Cleanup(func() { cluster.Close() })
	sentinel := fx.Addr("REDIS_SENTINEL")
	src, err := os.ReadFile(filepath.Join("testdata", "modules", "redis_topologies.lua"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.NewReplacer("{{SENTINEL}}", sentinel, "{{MASTER}}", fx.Get("REDIS_SENTINEL_MASTER")).Replace(string(src))
	e := redisEngineWith(t, tgt, writeModuleScript(t, "redis_topologies.lua", text), config.LuaConfig{}, storage, []string{sentinel})
	runCorpus(t, e, "u")
	ctx := context.Background()
	for i := 1; i <= 20; i++ {
		cluster.Del(ctx, fmt.Sprintf("%sspread%d", tgt.prefix, i))
	}
	cluster.Del(ctx, tgt.prefix+"h", "{"+tgt.prefix+"}a", "{"+tgt.prefix+"}b")
	sc := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: fx.Get("REDIS_SENTINEL_MASTER"), SentinelAddrs: []string{sentinel}})
	defer sc.Close()
	for _, mode := range []string{"sentinel", "sentinel_replica"} {
		if got, _ := sc.Get(ctx, tgt.prefix+mode).Result(); got != "via "+mode {
			t.Errorf("primary behind the Sentinel has %q for the %s pool's write", got, mode)
		}
		sc.Del(ctx, tgt.prefix+mode)
	}
}

// defaultStorage is storage.redis at addr with its default timeouts, those
// of newRedisTarget's client.
func defaultStorage(addr string) *config.Redis {
	return &config.Redis{Primary: config.RedisNode{Address: addr}, DialTimeout: config.DefaultRedisDialTimeout,
		ReadTimeout: config.DefaultRedisReadTimeout, WriteTimeout: config.DefaultRedisWriteTimeout, PoolTimeout: config.DefaultRedisPoolTimeout}
}

// With storage.redis's default timeouts a command ends long before the
// default script_timeout, so it runs on the script's goroutine; near the
// deadline, or with timeouts unknown, it runs on its own.
func TestRedisCommandBound(t *testing.T) {
	s := defaultStorage("127.0.0.1:6379")
	bound := commandBound(s.DialTimeout, s.PoolTimeout, s.WriteTimeout, s.ReadTimeout)
	if bound != 19*time.Second {
		t.Errorf("bound with the defaults = %v, want 6 attempts of 3 s plus 1 s", bound)
	}
	if commandBound(0, 0, 0, -1) != 0 {
		t.Error("a client without a read timeout has a bound")
	}
	conn := &redisConn{bound: bound}
	far, cancel := context.WithTimeout(context.Background(), config.DefaultLuaScriptTimeout)
	defer cancel()
	near, cancel2 := context.WithTimeout(context.Background(), time.Second)
	defer cancel2()
	if !conn.endsBefore(far) || conn.endsBefore(near) || conn.endsBefore(context.Background()) {
		t.Error("endsBefore: want true only for a deadline beyond the bound")
	}
	if (&redisConn{}).endsBefore(far) {
		t.Error("an unknown bound ends before a deadline")
	}
}

// The calls of a script are counted on /metrics by result.
func TestRedisCommandsAreCounted(t *testing.T) {
	m := miniredis.RunT(t)
	tgt := newRedisTarget(t, m.Addr())
	reg := prometheus.NewRegistry()
	host := NewHost()
	host.Registerer = reg
	host.SetRedis(tgt.client, defaultStorage(tgt.addr), nil)
	path := writeModuleScript(t, "count.lua", `local redis = require("nauthilus_redis")
function nauthilus_call_filter(request)
  redis.redis_set("default", "s", "x")
  redis.redis_get("default", "missing")
  redis.redis_hget("default", "s", "f")
  redis.redis_pipeline("default", "read", {{"get", "missing"}, {"hget", "s", "f"}})
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end`)
	e, err := NewEngine(Options{Config: config.Lua{Filters: []config.LuaFilter{{Name: "count", ScriptPath: path}}}, Host: host})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if _, err := e.RunFilters(context.Background(), &Request{Username: "u"}); err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "backline_lua_redis_commands_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			got[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
		}
	}
	want := map[string]float64{"ok": 2, "nil": 1, "error": 1, "timeout": 0}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("counts = %v, want %v", got, want)
	}
}
