package lua

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
)

// The library modules' Lua test corpus: testdata/modules/<module>_*.lua,
// each a filter whose nauthilus_call_filter asserts and returns accept.
// A failing assert is a Lua error, so the run fails with its message.

const moduleTestPassword = "s3cret-Passw0rd"

// runModuleScripts runs every testdata/modules/<prefix>_*.lua through the
// real engine with cfg, replacing {{KEY}} placeholders, and checks that the
// request password appears in no log line.
func runModuleScripts(t *testing.T, prefix string, cfg config.LuaConfig, repl map[string]string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "modules", prefix+"_*.lua"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no test scripts for %s (%v)", prefix, err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			runModuleScript(t, file, cfg, repl)
		})
	}
}

func runModuleScript(t *testing.T, file string, cfg config.LuaConfig, repl map[string]string) (*FilterOutcome, *syncBuffer) {
	t.Helper()
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	text := string(src)
	for k, v := range repl {
		text = strings.ReplaceAll(text, "{{"+k+"}}", v)
	}
	if cfg.ScriptTimeout == 0 {
		// A guard against a hang, not a speed bound: the password vectors
		// (Argon2, bcrypt) take seconds under -race on a busy machine.
		cfg.ScriptTimeout = 2 * time.Minute
	}
	e, logs := newEngine(t, engineSetup{cfg: cfg, filters: []config.LuaFilter{
		{Name: "m", ScriptPath: writeScript(t, filepath.Base(file), text, 0)},
	}})
	out, err := e.RunFilters(context.Background(), &Request{Username: "alice", Password: moduleTestPassword, ClientIP: "192.0.2.55"})
	if err != nil {
		t.Fatalf("%s: %v\nlogs:\n%s", file, err, logs.String())
	}
	if strings.Contains(logs.String(), moduleTestPassword) {
		t.Errorf("the request password is in the logs:\n%s", logs.String())
	}
	return out, logs
}

func TestNauthilusPasswordModule(t *testing.T) {
	cfg := config.LuaConfig{}
	cfg.PasswordNonce = "n0nce"
	cfg.PasswordHashLength = 8
	runModuleScripts(t, "nauthilus_password", cfg, map[string]string{"HASH8": "773016e9"})
}

func TestGeneratePasswordHashFullLength(t *testing.T) {
	cfg := config.LuaConfig{}
	cfg.PasswordNonce = "n0nce"
	cfg.PasswordHashLength = 64
	_, err, _ := runOne(t, `
function nauthilus_call_filter(request)
  local h = require("nauthilus_password").generate_password_hash("secret")
  assert(h == "773016e92b7dcd1afcad42bd5ec3f2c7820883902e47ca14b99ad1159e9db6e0", h)
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end`, engineSetup{cfg: cfg})
	if err != nil {
		t.Fatal(err)
	}
}

// A Lua password backend compares the stored hash with the user's password.
func TestComparePasswordsInPasswordScript(t *testing.T) {
	e, logs := newEngine(t, engineSetup{})
	p, err := e.NewPasswordScript(writeScript(t, "passdb.lua", `
local password = require("nauthilus_password")
function nauthilus_backend_verify_password(request)
  local b = nauthilus_backend_result.new()
  local ok, err = password.compare_passwords("$1$abcdefgh$fzmjzFdo5nMtBG8gtud5e0", request.password)
  if err ~= nil then error(err) end
  b:user_found(true)
  b:authenticated(ok)
  return nauthilus_builtin.BACKEND_RESULT_OK, b
end`, 0))
	if err != nil {
		t.Fatal(err)
	}
	for pw, want := range map[string]bool{"Hello world!": true, "wrong": false} {
		res, err := p.Verify(context.Background(), &Request{Username: "u", Password: pw})
		if err != nil || res.Authenticated != want {
			t.Errorf("%q: %+v, %v", pw, res, err)
		}
	}
	if strings.Contains(logs.String(), "Hello world!") {
		t.Error("password logged")
	}
}

func TestCryptoModules(t *testing.T) {
	runModuleScripts(t, "glua_crypto", config.LuaConfig{}, nil)
	runModuleScripts(t, "crypto", config.LuaConfig{}, nil)
}

func TestBase64Module(t *testing.T) { runModuleScripts(t, "base64", config.LuaConfig{}, nil) }

func TestStringsModule(t *testing.T) { runModuleScripts(t, "strings", config.LuaConfig{}, nil) }

func TestNauthilusKeysModule(t *testing.T) {
	// USE_KEY_HASHTAGS and KEY_HASHTAG_PREFIX are set but not listed in
	// lua.config.environment: the defaults apply.
	t.Setenv("USE_KEY_HASHTAGS", "false")
	t.Setenv("KEY_HASHTAG_PREFIX", "x-")
	runModuleScripts(t, "nauthilus_keys", config.LuaConfig{}, map[string]string{"TAG_ALICE": "{acm-6384e2b2184bcbf58eccf10ca7a6563c}"})
}

func TestNauthilusKeysEnvironment(t *testing.T) {
	t.Setenv("KEY_HASHTAG_PREFIX", "t1-")
	t.Setenv("USE_KEY_HASHTAGS", "true")
	cfg := config.LuaConfig{Environment: []string{"USE_KEY_HASHTAGS", "KEY_HASHTAG_PREFIX"}}
	src := `function nauthilus_call_filter(request)
  nauthilus_builtin.custom_log_add("tag", require("nauthilus_keys").account_tag("alice"))
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end`
	out, err, _ := runOne(t, src, engineSetup{cfg: cfg})
	if v, _ := logValue(out, "tag"); err != nil || v != "{t1-6384e2b2184bcbf58eccf10ca7a6563c}" {
		t.Errorf("prefix: %v, %v", v, err)
	}
	t.Setenv("USE_KEY_HASHTAGS", "false")
	out, err, _ = runOne(t, src, engineSetup{cfg: cfg})
	if v, _ := logValue(out, "tag"); err != nil || v != "" {
		t.Errorf("disabled: %q, %v", v, err)
	}
}

// Results that grow with their input are charged before they are built.
func TestLibraryResultsChargedToTheBudget(t *testing.T) {
	for name, src := range map[string]string{
		"glua_crypto.base64_encode": `local s = string.rep("x", 900000); require("glua_crypto").base64_encode(s)`,
		"base64 encode_to_string":   `local s = string.rep("x", 900000); require("base64").StdEncoding:encode_to_string(s)`,
		"strings.split":             `local s = string.rep(",", 100000); require("strings").split(s, ",")`,
		"strings.fields":            `local s = string.rep("a ", 100000); require("strings").fields(s)`,
		"strings.join":              `local t = {}; local s = string.rep("y", 100000); for i = 1, 12 do t[i] = s end; require("strings").join(t, ",")`,
	} {
		t.Run(name, func(t *testing.T) {
			cfg := config.LuaConfig{MaxMemory: config.MinLuaMaxMemory}
			_, err, _ := runOne(t, "function nauthilus_call_filter(request)\n"+src+"\nreturn nauthilus_builtin.FILTER_ACCEPT, 0 end", engineSetup{cfg: cfg})
			var se *ScriptError
			if !errors.As(err, &se) || !se.Memory {
				t.Fatalf("want a memory stop, got %v", err)
			}
		})
	}
}

func TestTemplateModule(t *testing.T) { runModuleScripts(t, "template", config.LuaConfig{}, nil) }

// A render that would outgrow max_memory stops the run before the text
// exists; render_file of an allowed file works and its syntax errors do
// not quote it.
func TestTemplateBudgetAndFiles(t *testing.T) {
	cfg := config.LuaConfig{MaxMemory: config.MinLuaMaxMemory}
	_, err, _ := runOne(t, `function nauthilus_call_filter(request)
  local l = {}
  for i = 1, 2000 do l[i] = i end
  local body = string.rep("x", 1000)
  require("template").choose("mustache"):render("{{#l}}{{#l}}"..body.."{{/l}}{{/l}}", {l = l})
  return nauthilus_builtin.FILTER_ACCEPT, 0
end`, engineSetup{cfg: cfg})
	var se *ScriptError
	if !errors.As(err, &se) || !se.Memory {
		t.Fatalf("want a memory stop, got %v", err)
	}

	dir := t.TempDir()
	writeScriptAt(t, dir, "ok.mustache", "Hi {{name}}")
	writeScriptAt(t, dir, "bad.mustache", "secret-content {{#x}}")
	src := `function nauthilus_call_filter(request)
  local m = require("template").choose("mustache")
  assert(m:render_file("` + dir + `/ok.mustache", {name = "n"}) == "Hi n")
  local out, err = m:render_file("` + dir + `/bad.mustache", {})
  assert(out == nil and not err:find("secret", 1, true) and err:find("template syntax error"), err)
  return nauthilus_builtin.FILTER_ACCEPT, 0
end`
	writeScriptAt(t, dir, "f.lua", src)
	e, logs := newEngine(t, engineSetup{filters: []config.LuaFilter{{Name: "f", ScriptPath: dir + "/f.lua"}}})
	if _, err := e.RunFilters(context.Background(), &Request{Username: "u"}); err != nil {
		t.Fatalf("%v\n%s", err, logs.String())
	}
}

func TestNauthilusMiscModule(t *testing.T) {
	cfg := config.LuaConfig{}
	cfg.IPScopingV4CIDR, cfg.IPScopingV6CIDR = 24, 64
	runModuleScripts(t, "nauthilus_misc", cfg, nil)
}

func TestScopedIPWithoutConfig(t *testing.T) {
	_, err, _ := runOne(t, `function nauthilus_call_filter(request)
  local misc = require("nauthilus_misc")
  assert(misc.scoped_ip("192.0.2.55") == "192.0.2.55")
  assert(misc.scoped_ip("lua_generic", "2001:db8::1") == "2001:db8::1")
  return nauthilus_builtin.FILTER_ACCEPT, 0
end`, engineSetup{})
	if err != nil {
		t.Fatal(err)
	}
}

// wait_random ends with the run's deadline, not after its own range.
func TestWaitRandomHonoursScriptTimeout(t *testing.T) {
	cfg := config.LuaConfig{ScriptTimeout: 100 * time.Millisecond}
	start := time.Now()
	_, err, _ := runOne(t, `function nauthilus_call_filter(request)
  require("nauthilus_misc").wait_random(60000, 60001)
  return nauthilus_builtin.FILTER_ACCEPT, 0
end`, engineSetup{cfg: cfg})
	var se *ScriptError
	if !errors.As(err, &se) || !se.Timeout {
		t.Fatalf("want a timeout, got %v", err)
	}
	if time.Since(start) > 30*time.Second {
		t.Errorf("wait_random slept its range")
	}
}

func TestNauthilusPsnetModule(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	accepted := make(chan net.Conn, 2)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	for range 2 {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		defer (<-accepted).Close()
	}
	want := "2"
	if _, err := os.Stat("/proc/net/tcp"); err != nil {
		t.Skip("no /proc/net/tcp")
	}
	runModuleScripts(t, "nauthilus_psnet", config.LuaConfig{}, map[string]string{"PORT": strconv.Itoa(port), "WANT": want})
}

func TestParseProcNet(t *testing.T) {
	text := `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:0019 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0
   1: 0100007F:D431 0100007F:0019 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0 20 4 30 10 -1
   2: 0100007F:0019 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 3 1 0 20 4 30 10 -1
   3: 0100007F:zz19 0100007F:D431 01 truncated
   4: 00000000000000000000000001000000:0019 00000000000000000000000001000000:D432 01 0
`
	remote, local := map[netip.AddrPort]int{}, map[netip.AddrPort]int{}
	parseProcNet(strings.NewReader(text), remote, local)
	smtp := netip.MustParseAddrPort("127.0.0.1:25")
	if remote[smtp] != 1 || local[smtp] != 1 || local[netip.MustParseAddrPort("127.0.0.1:54321")] != 1 {
		t.Errorf("v4: remote %v local %v", remote, local)
	}
	if local[netip.MustParseAddrPort("[::1]:25")] != 1 || remote[netip.MustParseAddrPort("[::1]:54322")] != 1 {
		t.Errorf("v6: remote %v local %v", remote, local)
	}
}

func readTestdata(name string) (string, error) {
	src, err := os.ReadFile(filepath.Join("testdata", name))
	return string(src), err
}

// Every function of the library modules appears in its test scripts.
func TestLibraryModuleCorpusCoversEveryFunction(t *testing.T) {
	prefixes := map[string]string{
		"nauthilus_password": "nauthilus_password", "nauthilus_keys": "nauthilus_keys", "glua_crypto": "glua_crypto",
		"crypto": "crypto", "base64": "base64", "strings": "strings", "template": "template",
		"nauthilus_misc": "nauthilus_misc", "nauthilus_mail": "nauthilus_mail", "nauthilus_psnet": "nauthilus_psnet",
		"glua_http": "glua_http",
	}
	for _, m := range registeredModules {
		prefix, mine := prefixes[m.Name]
		if !mine {
			continue
		}
		files, _ := filepath.Glob(filepath.Join("testdata", "modules", prefix+"_*.lua"))
		var corpus strings.Builder
		for _, f := range files {
			src, _ := os.ReadFile(f)
			corpus.Write(src)
		}
		for name := range m.Functions {
			if !strings.Contains(corpus.String(), name) {
				t.Errorf("%s.%s is not in testdata/modules/%s_*.lua", m.Name, name, prefix)
			}
		}
	}
}
