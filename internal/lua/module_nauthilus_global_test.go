package lua

import (
	"context"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
)

// The 1.0-era global `nauthilus` (module_nauthilus_global.go), with the
// scripts testdata/modules/legacy_*.lua.

func legacyRequest(user, password string) *Request {
	return &Request{Username: user, Password: password, Protocol: "imap",
		HTTP: &HTTPExchange{Method: http.MethodPost, Path: "/api/v1/auth/json",
			Header: http.Header{"X-Dovecot-Session": {"sess-" + user}, "Content-Type": {"application/json"}},
			Body:   []byte(`{"username":"` + user + `"}`)}}
}

func TestLegacyGlobalInFilter(t *testing.T) {
	// One state, two requests: the top-level `local n = nauthilus` must act
	// on each run's own request.
	legacyFilterRuns(t, "legacy_global_filter.lua", func(user string, out *FilterOutcome) {
		if out.StatusMessage != "legacy says hello" {
			t.Errorf("%s: status message %q", user, out.StatusMessage)
		}
		if len(out.Logs) != 1 || out.Logs[0].Key != "legacy_user" || out.Logs[0].Value != user {
			t.Errorf("%s: logs %+v", user, out.Logs)
		}
	})
}

// legacyFilterRuns runs testdata/modules/script as the only filter, for
// alice then bob on one state, against imap-a (127.0.0.1:1143) and imap-b
// (127.0.0.2:2143); each run must accept and pick imap-b, and check sees
// each outcome.
func legacyFilterRuns(t *testing.T, script string, check func(user string, out *FilterOutcome)) {
	t.Helper()
	e, err := NewEngine(Options{
		Config: config.Lua{Filters: []config.LuaFilter{{Name: "legacy", ScriptPath: policyScript(t, script)}},
			Config: config.LuaConfig{ScriptTimeout: 10 * time.Second, VMPoolSize: 1}},
		Health: snapshotOf(mail(target("imap-a", "127.0.0.1", 1143), true), mail(target("imap-b", "127.0.0.2", 2143), true)),
		Logger: newTestLogger(&syncBuffer{}),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for _, user := range []string{"alice", "bob"} {
		out, err := e.RunFilters(context.Background(), legacyRequest(user, "pw"))
		if err != nil {
			t.Fatalf("%s: %v", user, err)
		}
		if out.Reject {
			t.Errorf("%s: rejected", user)
		}
		if out.Selected == nil || out.Selected.Host != "127.0.0.2" || out.Selected.Port != 2143 {
			t.Errorf("%s: selected %+v, want 127.0.0.2:2143", user, out.Selected)
		}
		check(user, out)
	}
}

func TestLegacyGlobalInPasswordScript(t *testing.T) {
	e, err := NewEngine(Options{Logger: newTestLogger(&syncBuffer{})})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ps, err := e.NewPasswordScript(policyScript(t, "legacy_global_password.lua"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		password string
		ok       bool
	}{{"right", true}, {"wrong", false}} {
		res, err := ps.Verify(context.Background(), legacyRequest("alice", c.password))
		if err != nil {
			t.Fatal(err)
		}
		if res.Authenticated != c.ok {
			t.Errorf("password %q: authenticated %v", c.password, res.Authenticated)
		}
	}
}

// Every name of the 1.0 table is a function, and each alias names a
// module function (so a typo in the table cannot hide as "not supported").
func TestLegacyAliasesAreComplete(t *testing.T) {
	want := []string{"context_set", "context_get", "context_delete", "custom_log_add", "status_message_set",
		"get_all_http_request_headers", "get_http_request_header", "get_http_request_body",
		"redis_get_str", "redis_set_str", "redis_incr", "redis_del", "redis_expire",
		"redis_get", "redis_set", "redis_rename", "redis_hget", "redis_hset", "redis_sadd", "redis_smembers",
		"get_backend_servers", "select_backend_server", "check_backend_connection",
		"apply_backend_result", "remove_from_backend_result", "ldap_search", "send_mail"}
	var m *module
	for i := range registeredModules {
		if registeredModules[i].Name == "nauthilus" {
			m = &registeredModules[i]
		}
	}
	if m == nil {
		t.Fatal("nauthilus is not registered")
	}
	for _, name := range want {
		if m.Functions[name] == nil {
			t.Errorf("nauthilus.%s missing", name)
		}
	}
	for name, a := range legacyAliases {
		if !strings.HasPrefix(a.module, "nauthilus_") || a.fn == "" {
			t.Errorf("%s: alias %+v", name, a)
		}
		if strings.HasPrefix(name, "redis_") != a.handle {
			t.Errorf("%s: handle %v", name, a.handle)
		}
	}
	oneValue := []string{}
	for name, a := range legacyAliases {
		if a.oneValue {
			oneValue = append(oneValue, name)
		}
	}
	slices.Sort(oneValue)
	if got := strings.Join(oneValue, " "); got != "redis_del redis_expire redis_get_str redis_incr redis_set_str" {
		t.Errorf("one-value aliases: %s", got)
	}
}

func TestLegacyUsesRedis(t *testing.T) {
	for src, want := range map[string]bool{
		`function nauthilus_call_filter(r) local v = nauthilus.redis_get_str("k") end`: true,
		`local n = nauthilus
		 function nauthilus_call_filter(r) local f = function() return n.redis_hget("h", "f") end end`: true,
		`function nauthilus_call_filter(r) nauthilus.custom_log_add("k", "v") end`: false,
		`local redis_get_str = 1`: false,
		`function nauthilus_call_filter(r) return nauthilus.FILTER_ACCEPT end`: false,
	} {
		path := filepath.Join(t.TempDir(), "s.lua")
		writePolicyTestScript(t, path, src)
		s, err := compile("s", path)
		if err != nil {
			t.Fatal(err)
		}
		if got := legacyUsesRedis(s.proto); got != want {
			t.Errorf("%q: %v, want %v", src, got, want)
		}
	}
}
