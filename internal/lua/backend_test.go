package lua

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/probe"
)

func TestSelectBackendServerArgumentErrors(t *testing.T) {
	const msg = "bad argument #2 to select_backend_server (expected server (string) and port (number))"
	for _, call := range []string{
		`("10.0.0.1")`,
		`("10.0.0.1", 143, "extra")`,
		`()`,
		`(10, 143)`,
		`("10.0.0.1", "143")`,
		`("10.0.0.1", 14.5)`,
	} {
		src := "function nauthilus_call_filter(r) nauthilus_backend.select_backend_server" + call + " " + acceptReturn + " end"
		_, err, _ := runOne(t, src, engineSetup{})
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: err = %v", call, err)
		}
	}
}

func TestSelectedBackendServerRoundTrip(t *testing.T) {
	src := `
function nauthilus_call_filter(r)
  local h, p = nauthilus_backend.get_selected_backend_server()
  nauthilus_builtin.custom_log_add("before", h .. ":" .. p)
  nauthilus_backend.select_backend_server("a", 1)
  nauthilus_backend.select_backend_server("b", 2)
  h, p = nauthilus_backend.get_selected_backend_server()
  nauthilus_builtin.custom_log_add("after", h .. ":" .. p)
  ` + acceptReturn + `
end`
	out, err, _ := runOne(t, src, engineSetup{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]LogField{{"before", ":0"}, {"after", "b:2"}}, out.Logs); diff != "" {
		t.Error(diff)
	}
	if *out.Selected != (Selection{"b", 2}) {
		t.Errorf("selected = %+v", out.Selected)
	}
}

func TestApplyBackendResultRejectsTable(t *testing.T) {
	src := "function nauthilus_call_filter(r) nauthilus_backend.apply_backend_result({a = 1}) " + acceptReturn + " end"
	_, err, _ := runOne(t, src, engineSetup{})
	if err == nil || !strings.Contains(err.Error(), "bad argument #1 to apply_backend_result (userdata expected, got table)") {
		t.Fatalf("err = %v", err)
	}
}

func TestBackendResultObject(t *testing.T) {
	src := `
function nauthilus_call_filter(r)
  local a = nauthilus_backend_result.new()
  local b = nauthilus_backend_result:new()
  a:attributes({first = "x"})
  a:attributes({second = "y", list = {"p", "q"}, nested = {k = true}, [1] = "ignored"})
  b:attributes({})
  a:authenticated(true)
  a:account_field("uid")
  a:groups({" staff ", "admins", "staff"})
  nauthilus_builtin.custom_log_add("auth", a:authenticated())
  nauthilus_builtin.custom_log_add("acct", a:account_field())
  nauthilus_builtin.custom_log_add("has_first", a:attributes().first == nil)
  nauthilus_builtin.custom_log_add("empty_b", next(b:attributes()) == nil)
  nauthilus_backend.apply_backend_result(a)
  nauthilus_backend.apply_backend_result(b)
  local c = nauthilus_backend_result.new()
  c:attributes({second = "z"})
  nauthilus_backend.apply_backend_result(c)
  ` + acceptReturn + `
end`
	out, err, _ := runOne(t, src, engineSetup{})
	if err != nil {
		t.Fatal(err)
	}
	wantAttrs := map[string]any{"second": "z", "list": []any{"p", "q"}, "nested": map[string]any{"k": true}}
	if diff := cmp.Diff(wantAttrs, out.Attributes); diff != "" {
		t.Errorf("attributes: %s", diff)
	}
	if diff := cmp.Diff([]string{"admins", "staff"}, out.Groups); diff != "" {
		t.Errorf("groups: %s", diff)
	}
	if diff := cmp.Diff([]LogField{{"auth", true}, {"acct", "uid"}, {"has_first", true}, {"empty_b", true}}, out.Logs); diff != "" {
		t.Errorf("logs: %s", diff)
	}
}

func TestAttributesArrayIsAClearError(t *testing.T) {
	src := `function nauthilus_call_filter(r) nauthilus_backend_result.new():attributes({"a", "b"}) ` + acceptReturn + ` end`
	_, err, _ := runOne(t, src, engineSetup{})
	if err == nil || !strings.Contains(err.Error(), "not a list") {
		t.Fatalf("err = %v", err)
	}
}

func serversFixture() StaticSource {
	secret := target("secret", "10.0.0.9", 993)
	secret.Username, secret.Password = "probe-user", "probe-Pa55"
	secret.TLSMode, secret.HAProxyV2, secret.DeepCheck, secret.RequestURI = probe.TLSImplicit, true, true, "/x"
	secret.TLSConfig.InsecureSkipVerify = true
	down := mail(target("down", "10.0.0.2", 143), false)
	down.Connect.LastError = "connection refused"
	down.Connect.Latency = 1500 * time.Microsecond
	src := snapshotOf(mail(target("plain", "10.0.0.1", 143), true), down, mail(secret, true),
		health.BackendFor("gateway:x", target("gw", "10.0.0.5", 80), true))
	src.Targets = map[string]*probe.Target{"secret": secret}
	return src
}

func TestGetBackendServersListsHealthyMailTargets(t *testing.T) {
	src := `
function nauthilus_call_filter(r)
  for _, s in ipairs(nauthilus_backend.get_backend_servers()) do
    nauthilus_builtin.custom_log_add(s.name, table.concat({s.protocol, s.host, s.ip, tostring(s.port),
      s.request_uri, s.test_username, "[" .. #s.test_password .. "]", tostring(s.haproxy_v2), tostring(s.tls),
      tostring(s.tls_skip_verify), tostring(s.deep_check), s.tls_mode, tostring(s.unknown_field)}, " "))
  end
  ` + acceptReturn + `
end`
	for _, expose := range []bool{false, true} {
		out, err, _ := runOne(t, src, engineSetup{health: serversFixture(), cfg: config.LuaConfig{ExposeTestCredentials: expose}})
		if err != nil {
			t.Fatal(err)
		}
		pw := "[0]"
		if expose {
			pw = "[10]"
		}
		want := []LogField{
			{"plain", "imap 10.0.0.1 10.0.0.1 143   [0] false false false false plain nil"},
			{"secret", "imap 10.0.0.9 10.0.0.9 993 /x probe-user " + pw + " true true true true implicit nil"},
		}
		if diff := cmp.Diff(want, out.Logs); diff != "" {
			t.Errorf("expose=%v (-want +got):\n%s", expose, diff)
		}
	}
}

func TestGetBackendServersStatus(t *testing.T) {
	src := `
function nauthilus_call_filter(r)
  for _, s in ipairs(nauthilus_backend.get_backend_servers_status()) do
    nauthilus_builtin.custom_log_add(s.name, s.group .. " " .. s.host .. ":" .. s.port .. " " .. tostring(s.healthy) .. " [" .. s.last_error .. "] " .. s.latency_ms)
  end
  ` + acceptReturn + `
end`
	out, err, _ := runOne(t, src, engineSetup{health: serversFixture()})
	if err != nil {
		t.Fatal(err)
	}
	want := []LogField{
		{"plain", "backend_health_checks 10.0.0.1:143 true [] 0"},
		{"down", "backend_health_checks 10.0.0.2:143 false [connection refused] 1.5"},
		{"secret", "backend_health_checks 10.0.0.9:993 true [] 0"},
	}
	if diff := cmp.Diff(want, out.Logs); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestGetBackendServersWithoutHealthSource(t *testing.T) {
	src := "function nauthilus_call_filter(r) nauthilus_builtin.custom_log_add('n', #nauthilus_backend.get_backend_servers()) " + acceptReturn + " end"
	out, err, _ := runOne(t, src, engineSetup{})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := logValue(out, "n"); v != float64(0) {
		t.Errorf("n = %v", v)
	}
}

func TestCheckBackendConnectionForms(t *testing.T) {
	open, refused := acceptingListener(t), refusedPort(t)
	src := fmt.Sprintf(`
function nauthilus_call_filter(r)
  local b = nauthilus_backend
  local function log(k, a, b) nauthilus_builtin.custom_log_add(k, tostring(a) .. "|" .. tostring(b)) end
  log("six_open", b.check_backend_connection("imap", "127.0.0.1", %[1]d, false, false, false))
  log("six_refused", b.check_backend_connection("imap", "127.0.0.1", %[2]d, false, false, false))
  log("four_open", b.check_backend_connection("127.0.0.1", %[1]d, false, false))
  log("four_refused", b.check_backend_connection("127.0.0.1", %[2]d, false, false))
  log("table_open", b.check_backend_connection({protocol = "pop3", host = "127.0.0.1", port = %[1]d}))
  log("table_refused", b.check_backend_connection({protocol = "pop3", ip_address = "127.0.0.1", port = %[2]d}))
  %[3]s
end`, open, refused, acceptReturn)
	checker := &probe.Prober{}
	out, err, _ := runOne(t, src, engineSetup{checker: checker})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, l := range out.Logs {
		got[l.Key] = l.Value.(string)
	}
	for key, want := range map[string]string{
		"six_open": "true|nil", "four_open": "nil|nil", "table_open": "nil|nil",
	} {
		if got[key] != want {
			t.Errorf("%s = %q, want %q", key, got[key], want)
		}
	}
	for _, key := range []string{"six_refused", "four_refused", "table_refused"} {
		if !strings.Contains(got[key], "refused") {
			t.Errorf("%s = %q, want a refusal", key, got[key])
		}
	}
	if !strings.HasPrefix(got["six_refused"], "false|") || !strings.HasSuffix(got["four_refused"], "|nil") {
		t.Errorf("return shapes: six=%q four=%q", got["six_refused"], got["four_refused"])
	}
}

func TestCheckBackendConnectionBuildsTarget(t *testing.T) {
	port := acceptingListener(t)
	checker := &recordingChecker{}
	src := fmt.Sprintf(`
function nauthilus_call_filter(r)
  nauthilus_backend.check_backend_connection("smtp", "localhost", %[1]d, true, true, false)
  nauthilus_backend.check_backend_connection("127.0.0.1", %[1]d, true, false)
  nauthilus_backend.check_backend_connection({host = "127.0.0.1", port = %[1]d, tls = true, tls_skip_verify = false, haproxy_v2 = true})
  %[2]s
end`, port, acceptReturn)
	if _, err, _ := runOne(t, src, engineSetup{checker: checker}); err != nil {
		t.Fatal(err)
	}
	seen := checker.seen()
	if len(seen) != 3 {
		t.Fatalf("seen %d checks", len(seen))
	}
	type shape struct {
		Protocol, Host, ServerName string
		Mode                       probe.TLSMode
		Skip, Proxy                bool
	}
	var got []shape
	for _, tg := range seen {
		got = append(got, shape{tg.Protocol, tg.Host, tg.TLSConfig.ServerName, tg.TLSMode, tg.TLSConfig.InsecureSkipVerify, tg.HAProxyV2})
		if tg.ConnectTimeout != 5*time.Second || tg.TLSTimeout != 5*time.Second || tg.Password != "" {
			t.Errorf("target %+v", tg)
		}
	}
	want := []shape{
		{"smtp", "localhost", "localhost", probe.TLSImplicit, true, false},
		{"imap", "127.0.0.1", "127.0.0.1", probe.TLSPlain, false, true},
		{"imap", "127.0.0.1", "127.0.0.1", probe.TLSImplicit, false, true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Error(diff)
	}
}

func TestCheckBackendConnectionBadArguments(t *testing.T) {
	for _, call := range []string{`()`, `("a", 1, 2)`, `({host = "h", port = "x"})`} {
		src := "function nauthilus_call_filter(r) nauthilus_backend.check_backend_connection" + call + " " + acceptReturn + " end"
		if _, err, _ := runOne(t, src, engineSetup{checker: &recordingChecker{}}); err == nil || !strings.Contains(err.Error(), "check_backend_connection") {
			t.Errorf("%s: err = %v", call, err)
		}
	}
	// Without a checker the call reports an error instead of connecting.
	src := `function nauthilus_call_filter(r) local ok, err = nauthilus_backend.check_backend_connection("imap", "127.0.0.1", 1, false, false, false)
	nauthilus_builtin.custom_log_add("r", tostring(ok) .. " " .. err) ` + acceptReturn + ` end`
	out, err, _ := runOne(t, src, engineSetup{})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := logValue(out, "r"); v != "false no backend checker is configured" {
		t.Errorf("r = %v", v)
	}
}

func TestRemoveFromBackendResultNeedsTable(t *testing.T) {
	src := `function nauthilus_call_filter(r) nauthilus_backend.remove_from_backend_result("x") ` + acceptReturn + ` end`
	if _, err, _ := runOne(t, src, engineSetup{}); err == nil || !strings.Contains(err.Error(), "table expected, got string") {
		t.Fatalf("err = %v", err)
	}
	src = `function nauthilus_call_filter(r) nauthilus_backend.remove_from_backend_result({"a", 2})
	local removed = nauthilus_backend.get_removed_backend_attributes()
	nauthilus_builtin.custom_log_add("n", #removed) ` + acceptReturn + ` end`
	out, err, _ := runOne(t, src, engineSetup{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a", "2"}, out.Remove); diff != "" {
		t.Error(diff)
	}
}
