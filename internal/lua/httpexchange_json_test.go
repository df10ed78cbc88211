package lua

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// `backline lua test` with an "http" request: the filter reads it and the
// outcome lists the response headers and status it set.
func TestRunOfflineHTTP(t *testing.T) {
	req, err := ParseRequestJSON([]byte(`{"username":"bob","http":{"method":"POST","path":"/api/v1/auth/header",
	  "query":"mode=no-auth","headers":{"x-tag":["a","b"]},"body":"{}"}}`))
	if err != nil {
		t.Fatal(err)
	}
	script := writeScript(t, "h.lua", `
local http_request = require("nauthilus_http_request")
local http_response = require("nauthilus_http_response")
function nauthilus_call_filter(request)
  local tags = http_request.get_http_request_header("X-Tag")
  http_response.set_http_response_header("X-Tags", table.concat(tags, ",") .. " " .. http_request.get_http_query_param("mode")
    .. " " .. http_request.get_http_method() .. " " .. http_request.get_http_path() .. " " .. http_request.get_http_request_body())
  http_response.set_http_status(http_response.STATUS_ACCEPTED or 202)
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end`, 0)
	outcome, err := RunOffline(context.Background(), OfflineOptions{ScriptPath: script, Request: req})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	WriteOutcome(&out, outcome)
	want := "response_header: X-Tags: a,b no-auth POST /api/v1/auth/header {}\nresponse_status: 202\n"
	if !strings.HasSuffix(out.String(), want) {
		t.Errorf("got:\n%s\nwant suffix:\n%s", out.String(), want)
	}
	for _, bad := range []string{`{"http":{"verb":"GET"}}`, `{"http":{"path":"/x?y=1"}}`, `{"http":{"query":"%zz"}}`, `{"http":[]}`} {
		if _, err := ParseRequestJSON([]byte(bad)); err == nil || !strings.Contains(err.Error(), "http") {
			t.Errorf("%s: err %v", bad, err)
		}
	}
}
