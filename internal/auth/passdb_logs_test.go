package auth

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
)

// authRequestLines are the request log lines written so far, one per
// request: a custom log value with a line break must not split one.
func authRequestLines(t *testing.T, env *testEnv) []string {
	t.Helper()
	var out []string
	for _, l := range strings.Split(env.logs.String(), "\n") {
		if strings.Contains(l, `msg="auth request"`) {
			if !strings.Contains(l, "latency=") {
				t.Errorf("request line cut short: %.300q", l)
			}
			out = append(out, l)
		}
	}
	return out
}

func newPassdbLogsEnv(t *testing.T, filters ...string) *testEnv {
	return newLuaEnv(t, func(c *config.Config) {
		c.Auth.Passdb = append(c.Auth.Passdb, config.Passdb{Type: config.PassdbLua, ScriptPath: "testdata/passdb_logs.lua"})
		c.Auth.Cache.TTL = new(time.Duration) // every login runs the script
	}, filters...)
}

// TestLuaPassdbLogFields: a Lua passdb's custom_log_add entries reach the
// request log line as lua_<key>, as a filter's do, scrubbed the same way
// (the password as a value, inside a value or as a key never appears; the
// cleanup asserts that for the whole log), quoted when they hold control
// characters, and before the filters' entries; a key both add is logged
// once, with the filter's value (passdb_logs_keys_test.go).
func TestLuaPassdbLogFields(t *testing.T) {
	env := newPassdbLogsEnv(t, "log_filter.lua")
	if w := env.do(nginxRequest("logger", testPassword, "imap", "1")); w.Header().Get("Auth-Status") != "OK" {
		t.Fatalf("logger: %v", w.Header())
	}
	lines := authRequestLines(t, env)
	if len(lines) != 1 {
		t.Fatalf("%d request lines:\n%s", len(lines), env.logs.String())
	}
	line := lines[0]
	for _, want := range []string{
		"outcome=ok", "passdb=lua#1",
		"lua_backend_user=logger",
		"lua_backend_pw=<redacted>",
		`lua_backend_pw_inside="pw=<redacted>;"`,
		// A key carrying the password is redacted by the script's run
		// itself now (before it is cut to 64 bytes, so no cut can leave
		// part of it); a value is cut to 1 KiB (internal/lua/run_logs.go).
		"lua_<redacted>=",
		`lua_backend_huge="` + strings.Repeat("x", 1024) + "…[98976 bytes cut]\" ",
		`lua_backend_ctrl="a\nb\r\x1b[31mc\x00d"`,
		`"lua_ctrl\nkey"=v`,
		"lua_backend_num=42", "lua_backend_bool=true",
		"lua_backend_dup=second",
		"lua_filter_only=logger",
	} {
		if !strings.Contains(line, want) {
			t.Errorf("line lacks %.80q:\n%.2000s", want, line)
		}
	}
	// A key added again keeps its first place and takes the later value:
	// the filter's, which runs after the passdb.
	for _, gone := range []string{"lua_backend_dup=first", `lua_shared="from passdb"`} {
		if strings.Contains(line, gone) {
			t.Errorf("line keeps the earlier value %s", gone)
		}
	}
	if p, f := strings.Index(line, `lua_shared="from filter"`), strings.Index(line, "lua_backend_dup="); p < 0 || p > f {
		t.Errorf("shared key at %d, want it at the passdb's place (before lua_backend_dup at %d)", p, f)
	}
	// Said here as well as by the cleanup's check of the whole log.
	if strings.Contains(env.logs.String(), testPassword) {
		t.Errorf("the log carries the request password")
	}
}

// A failed login, a tempfail from the script's own FAIL answer, a userdb
// lookup and a listing log the passdb's entries too.
func TestLuaPassdbLogFieldsEveryOutcome(t *testing.T) {
	env := newPassdbLogsEnv(t)
	env.do(nginxRequest("logger", "wrong-password", "imap", "1"))
	env.do(nginxRequest("logfail", testPassword, "imap", "1"))
	// Not known to the script either: it ran, passed the user on, and
	// its entries are still part of the story.
	env.do(nginxRequest("nobody", testPassword, "imap", "1"))
	r := jsonRequestFor(http.MethodPost, `{"username":"logger","service":"imap"}`)
	r.URL.RawQuery = "mode=no-auth"
	env.do(r)
	env.do(httptestRequest(http.MethodGet, "/api/v1/auth/json?mode=list-accounts", ""))

	lines := authRequestLines(t, env)
	wants := [][]string{
		{"user=logger", "outcome=fail", `reason="wrong password"`, "lua_backend_user=logger", "lua_backend_pw=<redacted>"},
		{"user=logfail", "outcome=tempfail", "lua_backend_user=logfail", "lua_<redacted>="},
		{"user=nobody", "outcome=fail", `reason="unknown user"`, "lua_backend_user=nobody"},
		{"user=logger", "outcome=ok", "lua_backend_user=logger", "lua_shared=\"from passdb\""},
		{"outcome=ok", "passdb=passwd_file#0,lua#1", "lua_listed_by=passdb_logs"},
	}
	if len(lines) != len(wants) {
		t.Fatalf("%d request lines, want %d:\n%.3000s", len(lines), len(wants), env.logs.String())
	}
	for i, want := range wants {
		for _, w := range want {
			if !strings.Contains(lines[i], w) {
				t.Errorf("line %d lacks %q:\n%.600s", i, w, lines[i])
			}
		}
	}
}
