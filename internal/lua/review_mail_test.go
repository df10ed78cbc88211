package lua

import (
	"context"
	"runtime"
	"strconv"
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
