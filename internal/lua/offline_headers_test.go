package lua

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// `backline lua test` prints the headers a filter set for its answer: the
// operator debugging the script reads ids, keys that are no credential and
// URLs; a credential's value, a URL's code and the request's password stay
// withheld.
func TestRunOfflineShowsScriptHeadersButCredentials(t *testing.T) {
	req, err := ParseRequestJSON([]byte(`{"username":"bob","password":"PASSWORD1","http":{"method":"GET","path":"/api/v1/auth/header"}}`))
	if err != nil {
		t.Fatal(err)
	}
	script := writeScript(t, "h.lua", `
local http_response = require("nauthilus_http_response")
function nauthilus_call_filter(request)
  http_response.set_http_response_header("X-Dovecot-Session", "sess-42")
  http_response.set_http_response_header("Idempotency-Key", "req-7")
  http_response.set_http_response_header("X-Backend", "mbox01")
  http_response.set_http_response_header("Location", "https://app.example/cb?code=SECRET1&state=s1")
  http_response.set_http_response_header("X-Api-Key", "SECRET2")
  http_response.set_http_response_header("DPoP", "SECRET3")
  http_response.set_http_response_header("X-Debug", "pw=" .. request.password)
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end`, 0)
	outcome, err := RunOffline(context.Background(), OfflineOptions{ScriptPath: script, Request: req})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	WriteOutcome(&out, outcome)
	got := out.String()
	if strings.Contains(got, "SECRET") || strings.Contains(got, "PASSWORD1") {
		t.Errorf("a credential is shown:\n%s", got)
	}
	for _, want := range []string{
		"response_header: X-Dovecot-Session: sess-42\n",
		"response_header: Idempotency-Key: req-7\n",
		"response_header: X-Backend: mbox01\n",
		"response_header: Location: https://app.example/cb?code=<redacted>&state=s1\n",
		"response_header: X-Api-Key: <redacted>\n",
		"response_header: Dpop: <redacted>\n",
		"response_header: X-Debug: pw=<redacted>\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
}
