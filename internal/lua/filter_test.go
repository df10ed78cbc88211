package lua

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/backline/backline/internal/config"
)

func TestParallelFiltersMergeInConfigOrder(t *testing.T) {
	// "slow" finishes last (a long loop); the merge must not care.
	slow := `
function nauthilus_call_filter(request)
  local x = 0
  for i = 1, 300000 do x = x + i end
  nauthilus_builtin.status_message_set("from slow")
  nauthilus_builtin.custom_log_add("who", "slow")
  nauthilus_builtin.custom_log_add("slow", true)
  nauthilus_backend.select_backend_server("10.0.0.1", 143)
  local b = nauthilus_backend_result.new()
  b:attributes({shared = "slow", only_slow = 1})
  nauthilus_backend.apply_backend_result(b)
  nauthilus_backend.remove_from_backend_result({"x", "y"})
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end`
	middle := `
function nauthilus_call_filter(request)
  nauthilus_builtin.status_message_set("from middle")
  nauthilus_builtin.custom_log_add("who", "middle")
  nauthilus_backend.select_backend_server("10.0.0.2", 143)
  local b = nauthilus_backend_result.new()
  b:attributes({shared = "middle"})
  nauthilus_backend.apply_backend_result(b)
  nauthilus_backend.remove_from_backend_result({"y", "z"})
  return nauthilus_builtin.FILTER_REJECT, 7
end`
	last := `
function nauthilus_call_filter(request)
  nauthilus_builtin.custom_log_add("who", "last")
  nauthilus_builtin.custom_log_add("last", true)
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_FAIL
end`
	e, _ := newEngine(t, engineSetup{filters: []config.LuaFilter{
		filter(t, "slow", slow), filter(t, "middle", middle), filter(t, "last", last),
	}})
	for range 3 {
		out, err := e.RunFilters(context.Background(), &Request{Username: "u", Authenticated: true})
		if err != nil {
			t.Fatal(err)
		}
		want := &FilterOutcome{
			Reject:        true,
			Selected:      &Selection{Host: "10.0.0.2", Port: 143}, // last filter that changed it
			SelectedBy:    "middle",
			Attributes:    map[string]any{"shared": "middle", "only_slow": float64(1)},
			Remove:        []string{"x", "y", "z"},
			StatusMessage: "from slow",
			// Each filter set "who": the last in config order wins, not the
			// last to finish (slow); each filter's own key keeps its place.
			Logs:     []LogField{{"who", "last"}, {"slow", true}, {"last", true}},
			Results:  []string{"slow:ok", "middle:unknown(7)", "last:fail"},
			Rejected: []string{"middle"},
		}
		if diff := cmp.Diff(want, out); diff != "" {
			t.Fatalf("outcome (-want +got):\n%s", diff)
		}
	}
}

func TestOneFailingFilterFailsTheStep(t *testing.T) {
	ok := "function nauthilus_call_filter(r) " + acceptReturn + " end"
	bad := `function nauthilus_call_filter(r) error("broken on purpose") end`
	e, logs := newEngine(t, engineSetup{filters: []config.LuaFilter{filter(t, "good", ok), filter(t, "bad", bad)}})
	_, err := e.RunFilters(context.Background(), &Request{})
	var se *ScriptError
	if !errors.As(err, &se) || se.Script != "bad" || !strings.Contains(se.Msg, "broken on purpose") {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(logs.String(), `msg="Lua filter failed" script=bad`) {
		t.Errorf("log:\n%s", logs)
	}
}

func TestApplyToRemovesBeforeAdding(t *testing.T) {
	out := &FilterOutcome{
		Attributes: map[string]any{"mailhost": "lua", "new": "lua"},
		Remove:     []string{"mailhost", "gone"},
	}
	attrs := map[string]any{"mailhost": "backend", "gone": "x", "kept": "backend"}
	out.ApplyTo(attrs)
	want := map[string]any{"mailhost": "lua", "new": "lua", "kept": "backend"}
	if diff := cmp.Diff(want, attrs); diff != "" {
		t.Error(diff)
	}
	// Without the removal the backend value stays (set-if-absent).
	attrs = map[string]any{"mailhost": "backend"}
	(&FilterOutcome{Attributes: map[string]any{"mailhost": "lua"}}).ApplyTo(attrs)
	if attrs["mailhost"] != "backend" {
		t.Errorf("mailhost = %v", attrs["mailhost"])
	}
}

func TestModes(t *testing.T) {
	yes, no := true, false
	src := func(tag string) string {
		return `function nauthilus_call_filter(r) nauthilus_builtin.custom_log_add("ran_` + tag + `", "` + tag + `") ` + acceptReturn + ` end`
	}
	d := filter(t, "default", src("default"))
	n := filter(t, "noauth", src("noauth"))
	n.WhenNoAuth = &yes
	u := filter(t, "unauth", src("unauth"))
	u.WhenUnauthenticated, u.WhenAuthenticated = &yes, &no
	e, _ := newEngine(t, engineSetup{filters: []config.LuaFilter{d, n, u}})
	for _, tc := range []struct {
		req  Request
		want []string
	}{
		{Request{Authenticated: true}, []string{"default"}},
		{Request{}, []string{"default", "unauth"}},
		{Request{NoAuth: true}, []string{"noauth"}},
	} {
		out, err := e.RunFilters(context.Background(), &tc.req)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, l := range out.Logs {
			got = append(got, l.Value.(string))
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%+v: %s", tc.req, diff)
		}
		if e.FilterCount(&tc.req) != len(tc.want) {
			t.Errorf("FilterCount = %d", e.FilterCount(&tc.req))
		}
	}
}

func TestNoFiltersIsEmptyOutcome(t *testing.T) {
	e, _ := newEngine(t, engineSetup{})
	out, err := e.RunFilters(context.Background(), &Request{})
	if err != nil || out.Reject || len(out.Results) != 0 {
		t.Fatalf("out=%+v err=%v", out, err)
	}
}

func TestActionIsTruthyAndCodeDefaultsToZero(t *testing.T) {
	for src, want := range map[string]bool{
		`return nil, "x"`: false,
		`return false`:    false,
		`return 0, 0`:     true, // 0 is truthy in Lua
		`return "yes"`:    true,
	} {
		out, err, _ := runOne(t, "function nauthilus_call_filter(r) "+src+" end", engineSetup{})
		if err != nil {
			t.Fatal(err)
		}
		if out.Reject != want || out.Results[0] != "f:ok" {
			t.Errorf("%s: reject=%v results=%v", src, out.Reject, out.Results)
		}
	}
}

func TestSubjectEntryNameWorksToo(t *testing.T) {
	out, err, _ := runOne(t, "function nauthilus_call_subject(r) return nauthilus_builtin.SUBJECT_REJECT, 0 end", engineSetup{})
	if err != nil || !out.Reject {
		t.Fatalf("out=%+v err=%v", out, err)
	}
}

func TestMissingEntryFunctionIsAnError(t *testing.T) {
	_, err, logs := runOne(t, "local x = 1", engineSetup{})
	if err == nil || !strings.Contains(err.Error(), "entry function 'nauthilus_call_filter' is not defined") {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(logs.String(), "Lua filter failed") {
		t.Errorf("log:\n%s", logs)
	}
}

func TestRuntimeErrorLogsScriptAndStack(t *testing.T) {
	src := `
local function inner() local t = nil; return t.field end
function nauthilus_call_filter(request) local v = inner(); return v end`
	_, err, logs := runOne(t, src, engineSetup{})
	if err == nil || !strings.Contains(err.Error(), `lua script "f"`) {
		t.Fatalf("err = %v", err)
	}
	log := logs.String()
	for _, want := range []string{"level=ERROR", `msg="Lua filter failed"`, "script=f", "stacktrace=\"stack traceback", "f.lua:2: in function 'inner'"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}

func TestCompileErrorNamesScriptAndLine(t *testing.T) {
	path := writeScript(t, "broken.lua", "local a = 1\nfunction (\n", 0)
	_, err := NewEngine(Options{Config: config.Lua{Filters: []config.LuaFilter{{Name: "broken", ScriptPath: path}}}})
	if err == nil || !strings.Contains(err.Error(), `"broken"`) || !strings.Contains(err.Error(), "lua.filters[0].script_path") ||
		!strings.Contains(err.Error(), path+":2: syntax error") {
		t.Fatalf("err = %v", err)
	}
}

func TestPasswordNeverLogged(t *testing.T) {
	const password = "s3cret-Passw0rd"
	src := `
function nauthilus_call_filter(request)
  nauthilus_util.log_info("pw is " .. request.password)
  nauthilus_util.log_warn(request, {password = request.password, user = request.username}, "err " .. request.password)
  nauthilus_builtin.custom_log_add("pw", request.password)
  error("failing with " .. request.password)
end`
	_, err, logs := runOne(t, src, engineSetup{})
	if err == nil {
		t.Fatal("expected an error")
	}
	if strings.Contains(err.Error(), password) || strings.Contains(logs.String(), password) {
		t.Fatalf("password leaked:\nerr=%v\nlog=%s", err, logs)
	}
	if !strings.Contains(logs.String(), "<redacted>") {
		t.Errorf("expected redaction marker:\n%s", logs)
	}
}

func TestPasswordReachesScriptButNotLogFields(t *testing.T) {
	src := `
function nauthilus_call_filter(request)
  nauthilus_builtin.custom_log_add("pw_len", #request.password)
  nauthilus_builtin.custom_log_add("pw", request.password)
  return false, 0
end`
	out, err, _ := runOne(t, src, engineSetup{})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := logValue(out, "pw_len"); v != float64(len("s3cret-Passw0rd")) {
		t.Errorf("pw_len = %v", v)
	}
	if v, _ := logValue(out, "pw"); v != "<redacted>" {
		t.Errorf("pw = %v", v)
	}
}

func TestCompileScriptsCapsTheEchoedToken(t *testing.T) {
	path := writeScript(t, "long.lua", "x = \"a\" \""+strings.Repeat("b", 500)+"\"\n", 0)
	cfg := &config.Config{Lua: config.Lua{Filters: []config.LuaFilter{{Name: "long", ScriptPath: path}}}}
	err := CompileScripts(cfg)
	if err == nil || !strings.Contains(err.Error(), "lua.filters[0].script_path: "+path+":1: syntax error near") || len(err.Error()) > 300 {
		t.Fatalf("err = %v", err)
	}
}
