package lua

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/backline/backline/internal/config"
)

func modulesScript(t *testing.T, name string) string {
	t.Helper()
	path, err := filepath.Abs(filepath.Join("testdata", "modules", name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// exchangeFor is what the json endpoint builds for its request.
func exchangeFor() *HTTPExchange {
	r := httptest.NewRequest(http.MethodPost, "/api/v1/auth/json?mode=no-auth&x=1&x=2", strings.NewReader(""))
	r.Header.Add("X-Foo", "a")
	r.Header.Add("X-Foo", "b")
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Authorization", "Basic c2VjcmV0OnNlY3JldA==")
	r.Header.Set("Auth-Pass", "hunter2")
	return NewHTTPExchange(r, []byte(`{"username":"alice"}`), "", NewHiddenHeaders("Auth-Pass"))
}

func TestHTTPRequestModuleScript(t *testing.T) {
	e, logs := newEngine(t, engineSetup{filters: []config.LuaFilter{
		{Name: "http_request", ScriptPath: modulesScript(t, "http_request.lua")},
	}})
	// Twice on the pool: the module reads each run's request.
	for range 2 {
		out, err := e.RunFilters(context.Background(), &Request{Username: "alice", HTTP: exchangeFor()})
		if err != nil {
			t.Fatalf("%v\n%s", err, logs)
		}
		if out.Reject {
			t.Fatal("rejected")
		}
	}
}

// Without an HTTP exchange (`backline lua test`) the module reads an empty
// GET of "/": no nil where a script expects a table or a string.
func TestHTTPRequestModuleWithoutExchange(t *testing.T) {
	src := `
local http_request = require("nauthilus_http_request")
function nauthilus_call_filter(request)
  assert(#http_request.get_http_request_header("x") == 0)
  assert(next(http_request.get_all_http_request_headers()) == nil)
  assert(http_request.get_http_method() == "GET")
  assert(http_request.get_http_path() == "/")
  assert(http_request.get_http_query_param("mode") == "")
  assert(http_request.get_http_request_body() == "")
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end`
	if _, err, logs := runOne(t, src, engineSetup{}); err != nil {
		t.Fatalf("%v\n%s", err, logs)
	}
}

func TestHTTPRequestBodyTooLarge(t *testing.T) {
	src := `
local http_request = require("nauthilus_http_request")
function nauthilus_call_filter(request)
  local body, err = http_request.get_http_request_body()
  assert(body == nil, "body must be nil")
  assert(err == "request body larger than 65536 bytes", tostring(err))
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end`
	e, logs := newEngine(t, engineSetup{filters: []config.LuaFilter{filter(t, "big", src)}})
	x := exchangeFor()
	x.Body, x.BodyErr = nil, "request body larger than 65536 bytes"
	if _, err := e.RunFilters(context.Background(), &Request{HTTP: x}); err != nil {
		t.Fatalf("%v\n%s", err, logs)
	}
}

// Ten thousand request headers: the map is built within the run's budget.
func TestHTTPRequestManyHeaders(t *testing.T) {
	src := `
local http_request = require("nauthilus_http_request")
function nauthilus_call_filter(request)
  local n = 0
  for _ in pairs(http_request.get_all_http_request_headers()) do n = n + 1 end
  nauthilus_builtin.custom_log_add("headers", n)
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end`
	e, logs := newEngine(t, engineSetup{filters: []config.LuaFilter{filter(t, "many", src)}})
	x := exchangeFor()
	for i := range 10000 {
		x.Header["X-H"+strconv.Itoa(i)] = []string{"v"}
	}
	out, err := e.RunFilters(context.Background(), &Request{HTTP: x})
	if err != nil {
		t.Fatalf("%v\n%s", err, logs)
	}
	if len(out.Logs) != 1 || out.Logs[0].Value.(float64) < 10000 {
		t.Fatalf("logs %v", out.Logs)
	}
}

func TestHTTPResponseModuleScript(t *testing.T) {
	e, logs := newEngine(t, engineSetup{filters: []config.LuaFilter{
		{Name: "http_response", ScriptPath: modulesScript(t, "http_response.lua")},
	}})
	x := exchangeFor()
	if _, err := e.RunFilters(context.Background(), &Request{HTTP: x}); err != nil {
		t.Fatalf("%v\n%s", err, logs)
	}
	want := http.Header{"X-Backline-Test": {"two"}, "X-Multi": {"a", "b"}}
	if diff := cmp.Diff(want, x.ResponseHeaders()); diff != "" {
		t.Fatalf("response headers (-want +got):\n%s", diff)
	}
	if x.Status() != 200 {
		t.Fatalf("status %d", x.Status())
	}
}

func TestHTTPModulesInPasswordScript(t *testing.T) {
	e, logs := newEngine(t, engineSetup{})
	s, err := e.NewPasswordScript(modulesScript(t, "http_password_backend.lua"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Verify(context.Background(), &Request{Username: "u", Password: "s3cret-pass", HTTP: exchangeFor()})
	if err != nil {
		t.Fatalf("%v\n%s", err, logs)
	}
	if !res.OK || !res.Authenticated {
		t.Fatalf("result %+v", res)
	}
}

func TestCheckResponseHeader(t *testing.T) {
	for _, tc := range []struct{ name, value, want string }{
		{"X-Ok", "fine value", ""},
		{"X-Nauthilus-Bruteforce", "1", ""},
		{"auth-status", "OK", "may not be set"},
		{"AUTH-SERVER", "10.0.0.1", "may not be set"},
		{"keep-alive", "x", "hop-by-hop"},
		{"X-A", "a\nb", "control characters"},
		{"X-A", "a\x01b", "control characters"},
		{"X-A", strings.Repeat("v", 5000), "longer than"},
		{"", "v", "invalid header name"},
		{"X:A", "v", "invalid header name"},
		{strings.Repeat("n", 200), "v", "invalid header name"},
	} {
		got := CheckResponseHeader(tc.name, tc.value)
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("CheckResponseHeader(%q, %q) = %q, want %q", tc.name, tc.value, got, tc.want)
		}
	}
}

func TestURLPartialDecode(t *testing.T) {
	for in, want := range map[string]string{
		"": "", "plain": "plain", "%41%42": "AB", "%4": "%4", "%": "%", "%zz": "%zz",
		"a+b": "a+b", "%e2%82%ac": "€", "100%": "100%", "%%41": "%A",
	} {
		if got := urlPartialDecode(in); got != want {
			t.Errorf("urlPartialDecode(%q) = %q, want %q", in, got, want)
		}
	}
}

// Filters of one request run in parallel and share the response: every
// add_ is kept (run with -race).
func TestHTTPResponseSharedByParallelFilters(t *testing.T) {
	src := func(v string) string {
		return `
local http_response = require("nauthilus_http_response")
function nauthilus_call_filter(request)
  for i = 1, 10 do http_response.add_http_response_header("X-Both", "` + v + `" .. i) end
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end`
	}
	e, logs := newEngine(t, engineSetup{filters: []config.LuaFilter{filter(t, "one", src("a")), filter(t, "two", src("b"))}})
	x := exchangeFor()
	if _, err := e.RunFilters(context.Background(), &Request{HTTP: x}); err != nil {
		t.Fatalf("%v\n%s", err, logs)
	}
	if got := len(x.ResponseHeaders()["X-Both"]); got != 20 {
		t.Fatalf("X-Both has %d values, want 20", got)
	}
}
