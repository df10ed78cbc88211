package lua

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	glua "github.com/yuin/gopher-lua"

	"github.com/backline/backline/internal/config"
)

// dryRunState is what dryrun_writes.lua can change outside its run.
func dryRunState(t *testing.T, host *Host, reg *prometheus.Registry) string {
	t.Helper()
	c := host.cache()
	c.mu.Lock()
	var keys []string
	for k, el := range c.entries {
		keys = append(keys, fmt.Sprintf("%s=%v", k, el.Value.(*cacheEntry).v))
	}
	c.mu.Unlock()
	slices.Sort(keys)
	counter := "none"
	if _, series := gathered(t, reg, "lua_dryrun_logins_total"); series != nil {
		counter = fmt.Sprint(series["service=imap"].GetCounter().GetValue())
	}
	ps := hostValue(host, "nauthilus_psnet", func() *psnetState { return &psnetState{targets: map[string]psnetTarget{}} })
	ps.mu.Lock()
	targets := len(ps.targets)
	ps.mu.Unlock()
	return fmt.Sprintf("cache %v, counter %s, psnet targets %d", keys, counter, targets)
}

// A dry run of a filter that writes to nauthilus_cache,
// nauthilus_prometheus and nauthilus_psnet and sends mail changes none of
// them and lists what it skipped; a real run of the same filter writes.
func TestDryRunLeavesModuleStateUnchanged(t *testing.T) {
	reg := prometheus.NewRegistry()
	host := NewHost()
	host.Registerer = reg
	e := moduleEngine(t, host, 0, "dryrun_writes.lua")
	run := func(dry bool) *FilterOutcome {
		t.Helper()
		out, err := e.RunFilters(context.Background(), &Request{Username: "alice", Protocol: "imap", DryRun: dry})
		if err != nil {
			t.Fatal(err)
		}
		mode, _ := logValue(out, "mode")
		if want := map[bool]string{true: "dry", false: "real"}[dry]; mode != want {
			t.Fatalf("the script saw a %v run, want %s", mode, want)
		}
		return out
	}

	empty := dryRunState(t, host, reg)
	out := run(true)
	if got := dryRunState(t, host, reg); got != empty {
		t.Errorf("a dry run changed %s to %s", empty, got)
	}
	want := []string{"nauthilus_cache.cache_set", "nauthilus_prometheus.create_counter_vec",
		"nauthilus_prometheus.increment_counter", "nauthilus_prometheus.set_gauge",
		"nauthilus_prometheus.start_histogram_timer", "nauthilus_cache.cache_push", "nauthilus_cache.cache_update",
		"nauthilus_psnet.register_connection_target", "nauthilus_mail.send_mail", "nauthilus_cache.cache_pop_all",
		"nauthilus_cache.cache_delete"}
	for i := range want {
		want[i] = "dryrun_writes: " + want[i]
	}
	if !slices.Equal(out.Suppressed, want) {
		t.Errorf("suppressed:\n%q\nwant\n%q", out.Suppressed, want)
	}

	out = run(false)
	if len(out.Suppressed) != 0 {
		t.Errorf("a real run lists suppressed effects: %q", out.Suppressed)
	}
	written := dryRunState(t, host, reg)
	if want := "cache [seen=1 users=[alice]], counter 1, psnet targets 1"; written != want {
		t.Fatalf("after a real run: %s, want %s", written, want)
	}
	run(true) // reads what the real run wrote (the script checks), changes nothing
	if got := dryRunState(t, host, reg); got != written {
		t.Errorf("a dry run changed %s to %s", written, got)
	}
	run(false)
	if got, want := dryRunState(t, host, reg), "cache [seen=2 users=[alice alice]], counter 2, psnet targets 1"; got != want {
		t.Errorf("second real run: %s, want %s", got, want)
	}
}

// A dry run sends GET requests but not POST or DELETE: those fail like an
// unreachable server, naming the function, and reach no server.
func TestDryRunRefusesUnsafeHTTP(t *testing.T) {
	srv := httpTestServer(t, false)
	cfg := config.LuaConfig{}
	cfg.HTTPClient = config.LuaHTTPClient{AllowedHosts: []string{"127.0.0.1"}, Timeout: 5 * time.Second,
		MaxResponseBody: 1 << 20, MaxRedirects: 1}
	raw, err := readTestdata("modules/dryrun_refused.lua")
	if err != nil {
		t.Fatal(err)
	}
	src := strings.ReplaceAll(raw, "{{URL}}", srv.URL)
	e, logs := newEngine(t, engineSetup{cfg: cfg, filters: []config.LuaFilter{filter(t, "calls_out", src)}})
	for _, dry := range []bool{true, false} {
		out, err := e.RunFilters(context.Background(), &Request{Username: "alice", DryRun: dry})
		if err != nil {
			t.Fatalf("dry %v: %v\n%s", dry, err, logs.String())
		}
		get, _ := logValue(out, "get")
		post, _ := logValue(out, "post")
		del, _ := logValue(out, "batch_delete")
		batchGet, _ := logValue(out, "batch_get")
		if get != "hello" || batchGet != "hello" {
			t.Errorf("dry %v: GET answered %v and %v", dry, get, batchGet)
		}
		if dry {
			if post != "glua_http.post: not run in a dry run (explain)" || del != "glua_http.delete: not run in a dry run (explain)" {
				t.Errorf("dry run: post %v, delete %v", post, del)
			}
			if want := []string{"calls_out: glua_http.post", "calls_out: glua_http.delete"}; !slices.Equal(out.Suppressed, want) {
				t.Errorf("suppressed %q, want %q", out.Suppressed, want)
			}
		} else if !strings.HasPrefix(fmt.Sprint(post), "POST|") || !strings.HasPrefix(fmt.Sprint(del), "DELETE|") {
			t.Errorf("real run: post %v, delete %v", post, del)
		}
	}
}

// A function marked without a stand-in raises a Lua error naming it.
func TestSideEffectWithoutStandInRaises(t *testing.T) {
	called := false
	fn := sideEffect("test_module.write", func(*scriptRun, *glua.LState) int { called = true; return 0 }, nil)
	L := glua.NewState()
	defer L.Close()
	r := &scriptRun{req: &Request{DryRun: true}}
	err := L.CallByParam(glua.P{Fn: L.NewFunction(func(L *glua.LState) int { return fn(r, L) }), Protect: true})
	if err == nil || !strings.Contains(err.Error(), "test_module.write: not run in a dry run (explain)") || called {
		t.Fatalf("err %v, called %v", err, called)
	}
	if !slices.Equal(r.suppressed, []string{"test_module.write"}) {
		t.Errorf("suppressed %q", r.suppressed)
	}
	r.req.DryRun = false
	if err := L.CallByParam(glua.P{Fn: L.NewFunction(func(L *glua.LState) int { return fn(r, L) }), Protect: true}); err != nil || !called {
		t.Fatalf("a real run: err %v, called %v", err, called)
	}
}

// Marking a function a module does not define is a programming error
// caught at start-up.
func TestMarkEffectsRefusesUnknownNames(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	markEffects("m", map[string]runFunc{}, map[string]runFunc{"missing": nil})
}

// Every function of the modules that write outside the run is either
// marked as a side effect or listed here as a read, so a function added
// later has to be classified for dry runs (glua_http decides per method).
func TestModuleFunctionsAreClassifiedForDryRuns(t *testing.T) {
	reads := map[string][]string{
		"nauthilus_cache":      {"cache_get", "cache_exists", "cache_keys", "cache_size"},
		"nauthilus_prometheus": {"stop_timer"},
		"nauthilus_mail":       {},
		// db.open makes a pool and no connection; its handles' exec is
		// marked in module_db.go, queries run read-only in a dry run.
		"db":              {"open"},
		"nauthilus_psnet": {"get_connection_target"},
		"nauthilus_redis": {"redis_decrypt", "redis_encrypt", "redis_exists", "redis_get", "redis_hexists", "redis_hget",
			"redis_hgetall", "redis_hlen", "redis_hmget", "redis_is_encryption_enabled", "redis_keys", "redis_llen",
			"redis_lrange", "redis_mget", "redis_pfcount", "redis_ping", "redis_scan", "redis_scard", "redis_sismember",
			"redis_smembers", "redis_zcount", "redis_zrange", "redis_zrangebyscore", "redis_zrank", "redis_zrevrange",
			"redis_zrevrange_withscores", "redis_zrevrank", "redis_zscore",
			// register_redis_pool writes no data; redis_pipeline checks its rows (dryPipeline).
			"register_redis_pool", "get_redis_connection", "redis_pipeline"},
	}
	seen := 0
	for _, m := range registeredModules {
		known, ok := reads[m.Name]
		if !ok {
			continue
		}
		seen++
		for name := range m.Functions {
			full := m.Name + "." + name
			switch {
			case effectNames[full] && slices.Contains(known, name):
				t.Errorf("%s is both a read and a side effect", full)
			case !effectNames[full] && !slices.Contains(known, name):
				t.Errorf("%s is neither marked as a side effect (sideEffect/markEffects) nor listed as a read", full)
			}
		}
	}
	if seen != len(reads) {
		t.Errorf("found %d of the %d modules", seen, len(reads))
	}
}
