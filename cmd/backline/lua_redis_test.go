package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
)

// TestCheckRefusesRedisFilterWithoutStorageRedis: a filter that requires
// nauthilus_redis fails check (and so serve) with its key path when
// storage.redis is not configured.
func TestCheckRefusesRedisFilterWithoutStorageRedis(t *testing.T) {
	filter := writeFile(t, "monitoring.lua", `local redis = require("nauthilus_redis")
function nauthilus_call_filter(r) return false, 0 end
`)
	code, stdout, stderr := backline(t, "check", "--config", writeFile(t, "c.yml", luaConfig(filter, writeFile(t, "p.lua", goodPassdb))))
	if code != exitFail || stdout != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	want := `lua.filters[0].script_path (line 10): lua script "route" requires nauthilus_redis, but storage.redis is not configured`
	if !strings.Contains(stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, stderr)
	}
}

// TestServeGivesFiltersStorageRedis: under serve, nauthilus_redis's
// "default" is storage.redis; a filter writes there on a login, and its
// request.redis_prefix is storage.redis.prefix (here the default).
func TestServeGivesFiltersStorageRedis(t *testing.T) {
	m := miniredis.RunT(t)
	passwd := writeFile(t, "passwd", "alice:{PLAIN}Alice-pw-9\n")
	filter := writeFile(t, "monitoring.lua", `local redis = require("nauthilus_redis")
function nauthilus_call_filter(request)
  local h = redis.get_redis_connection("default")
  local _, err = redis.redis_hset(h, "backline-test:seen", request.username, request.protocol)
  if err ~= nil then error(err) end
  redis.redis_set(h, require("nauthilus_util").get_redis_key(request, "prefixed"), "1")
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end
`)
	d := startDaemon(t, `auth:
  passdb:
    - type: passwd_file
      path: `+passwd+`
lua:
  filters:
    - name: monitoring
      script_path: `+filter+`
storage:
  redis:
    primary:
      address: `+m.Addr()+`
`)
	req, _ := http.NewRequest(http.MethodGet, "http://"+d.api+"/api/v1/auth/nginx", nil)
	for k, v := range map[string]string{"Auth-Method": "plain", "Auth-User": "alice", "Auth-Pass": "Alice-pw-9",
		"Auth-Protocol": "imap", "Auth-Login-Attempt": "1", "Client-IP": "192.0.2.7"} {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := m.HGet("backline-test:seen", "alice"); got != "imap" {
		t.Errorf("Redis hash field = %q (Auth-Status %q); want the filter's write", got, resp.Header.Get("Auth-Status"))
	}
	if !m.Exists("backline:prefixed") {
		t.Errorf("no key backline:prefixed (storage.redis.prefix's default); keys %v", m.Keys())
	}
}

// TestLuaTestRedisPrefix: backline lua test --redis gives scripts
// request.redis_prefix from --redis-prefix, storage.redis's default
// without it.
func TestLuaTestRedisPrefix(t *testing.T) {
	m := miniredis.RunT(t)
	script := writeFile(t, "f.lua", `function nauthilus_call_filter(request)
  nauthilus_builtin.custom_log_add("prefix", "[" .. request.redis_prefix .. "]")
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end
`)
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "[backline:]"},
		{[]string{"--redis-prefix", "nt_"}, "[nt_]"},
		{[]string{"--redis-prefix", ""}, "[]"},
	} {
		args := append([]string{"lua", "test", "--script", script, "--redis", m.Addr()}, c.args...)
		code, stdout, stderr := backline(t, args...)
		if code != exitOK || !strings.Contains(stdout, c.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want %s", c.args, code, stdout, stderr, c.want)
		}
	}
}
