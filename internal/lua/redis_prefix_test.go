package lua

import (
	"context"
	"testing"

	"github.com/alicebob/miniredis/v2"

	"github.com/backline/backline/internal/config"
)

// prefixScript is both a filter and a Lua passdb: each reports
// request.redis_prefix and writes a key through nauthilus_util.get_redis_key.
const prefixScript = `local redis = require("nauthilus_redis")
local util = require("nauthilus_util")

function nauthilus_call_filter(request)
  redis.redis_set("default", util.get_redis_key(request, "filter"), "1")
  nauthilus_builtin.custom_log_add("prefix", "[" .. request.redis_prefix .. "]")
  if request.redis_prefix ~= request.username then
    error("filter sees redis_prefix " .. request.redis_prefix)
  end
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end

function nauthilus_backend_verify_password(request)
  redis.redis_set("default", util.get_redis_key(request, "passdb"), "1")
  local b = nauthilus_backend_result.new()
  b:user_found(true)
  b:authenticated(true)
  b:attributes({prefix = request.redis_prefix})
  return nauthilus_builtin.BACKEND_RESULT_OK, b
end`

// TestRequestRedisPrefix: request.redis_prefix is storage.redis.prefix in
// a filter and in a Lua passdb (nauthilus_util.get_redis_key builds keys
// with it), including an empty prefix.
func TestRequestRedisPrefix(t *testing.T) {
	for _, prefix := range []string{"nt_", config.DefaultRedisPrefix, ""} {
		t.Run("["+prefix+"]", func(t *testing.T) {
			expectScriptsSeePrefix(t, prefix, config.LuaConfig{}, prefix)
		})
	}
}

// Without storage.redis (or without its configuration) the field is "".
func TestRequestRedisPrefixWithoutRedis(t *testing.T) {
	path := writeScript(t, "p.lua", `function nauthilus_call_filter(request)
  if request.redis_prefix ~= "" then error("redis_prefix " .. tostring(request.redis_prefix)) end
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end`, 0)
	e, _ := newEngine(t, engineSetup{filters: []config.LuaFilter{{Name: "p", ScriptPath: path}}})
	runCorpus(t, e, "u")
}

// lua.config.redis_prefix, when set (even to ""), is request.redis_prefix
// in place of storage.redis.prefix, so a migrated script finds Nauthilus's
// keys while backline's own keep their prefix; without it the field stays
// storage.redis.prefix.
func TestRequestRedisPrefixOverride(t *testing.T) {
	override := func(s string) *string { return &s }
	for _, c := range []struct {
		name     string
		override *string
		want     string
	}{
		{"absent", nil, config.DefaultRedisPrefix},
		{"nt_", override("nt_"), "nt_"},
		{"empty", override(""), ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			expectScriptsSeePrefix(t, config.DefaultRedisPrefix, config.LuaConfig{RedisPrefix: c.override}, c.want)
		})
	}
}

// expectScriptsSeePrefix runs prefixScript as a filter and as a Lua
// passdb with storage.redis.prefix storagePrefix and cfg on miniredis:
// both must see request.redis_prefix want and write their keys under it.
func expectScriptsSeePrefix(t *testing.T, storagePrefix string, cfg config.LuaConfig, want string) {
	t.Helper()
	m := miniredis.RunT(t)
	tgt := newRedisTarget(t, m.Addr())
	storage := defaultStorage(tgt.addr)
	storage.Prefix = storagePrefix
	path := writeModuleScript(t, "prefix.lua", prefixScript)
	e := redisEngineWith(t, tgt, path, cfg, storage, nil)
	// The filter raises unless the field equals the username.
	runCorpus(t, e, want)

	p, err := e.NewPasswordScript(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Verify(context.Background(), &Request{Username: "u", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Attributes["prefix"] != want {
		t.Errorf("passdb sees redis_prefix %v, want %q", got.Attributes["prefix"], want)
	}
	for _, k := range []string{want + "filter", want + "passdb"} {
		if !m.Exists(k) {
			t.Errorf("key %q not written; keys: %v", k, m.Keys())
		}
	}
}

// The override applies without storage.redis too: scripts then see it
// rather than "".
func TestRequestRedisPrefixOverrideWithoutRedis(t *testing.T) {
	path := writeScript(t, "p.lua", `function nauthilus_call_filter(request)
  if request.redis_prefix ~= "nt_" then error("redis_prefix " .. tostring(request.redis_prefix)) end
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end`, 0)
	prefix := "nt_"
	e, _ := newEngine(t, engineSetup{filters: []config.LuaFilter{{Name: "p", ScriptPath: path}}, cfg: config.LuaConfig{RedisPrefix: &prefix}})
	runCorpus(t, e, "u")
}
