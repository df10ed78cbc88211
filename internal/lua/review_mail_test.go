package lua

import (
	"context"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/backline/backline/internal/config"
)

// TestSendMailRefusedBeforeComposing: without lua.config.mail.allowed_hosts
// every send is refused, and it is refused before the message is built:
// composing a body of line feeds allocated about eight times the body
// (CRLF conversion, builder growth, the byte copy) before anything was
// charged or the server checked.
func TestSendMailRefusedBeforeComposing(t *testing.T) {
	const body = 8 << 20
	src := `function nauthilus_call_filter(request)
  local body = string.rep("\n", ` + strconv.Itoa(body) + `)
  local err = nauthilus_mail.send_mail({server = "127.0.0.1", port = 25, from = "a@example.org",
    to = {"b@example.org"}, subject = "s", body = body})
  assert(err and err:find("not allowed", 1, true), err)
  ` + acceptReturn + `
end`
	e, logs := newEngine(t, engineSetup{filters: []config.LuaFilter{filter(t, "f", src)}})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if _, err := e.RunFilters(context.Background(), &Request{Username: "u"}); err != nil {
		t.Fatalf("%v\n%s", err, logs.String())
	}
	runtime.ReadMemStats(&after)
	// string.rep's result and the engine's own work; composing added 64 MiB.
	if got := after.TotalAlloc - before.TotalAlloc; got > 4*body {
		t.Fatalf("a refused send allocated %d bytes for a %d-byte body", got, body)
	}
}

// TestResponseHeaderNeverCarriesThePassword: a filter copying the request
// password into a response header put it into the auth answer; the value
// is now scrubbed as in logs and metrics.
func TestResponseHeaderNeverCarriesThePassword(t *testing.T) {
	src := `local http_response = require("nauthilus_http_response")
function nauthilus_call_filter(request)
  http_response.set_http_response_header("X-Debug", "pw=" .. request.password)
  http_response.add_http_response_header("X-Debug2", request.password)
  ` + acceptReturn + `
end`
	e, logs := newEngine(t, engineSetup{filters: []config.LuaFilter{filter(t, "f", src)}})
	x := exchangeFor()
	if _, err := e.RunFilters(context.Background(), &Request{HTTP: x, Username: "alice", Password: "s3cret-Passw0rd"}); err != nil {
		t.Fatalf("%v\n%s", err, logs)
	}
	for name, values := range x.ResponseHeaders() {
		for _, v := range values {
			if strings.Contains(v, "s3cret-Passw0rd") {
				t.Fatalf("answer header %s carries the password: %q", name, v)
			}
		}
	}
	if got := x.ResponseHeaders().Get("X-Debug"); got != "pw=<redacted>" {
		t.Fatalf("X-Debug = %q", got)
	}
}
