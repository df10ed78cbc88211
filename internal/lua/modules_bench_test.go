package lua

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/backline/backline/internal/config"
)

// contextSelectScript is hashSelectScript that also keeps its choice in
// nauthilus_context (set, then get) and counts it in nauthilus_cache and
// nauthilus_prometheus, as monitoring filters do.
var contextSelectScript = strings.Replace(hashSelectScript,
	"  nauthilus_backend.select_backend_server(s.host, s.port)",
	`  local ctx = require("nauthilus_context")
  ctx.context_set("backend", { host = s.host, port = s.port })
  local b = ctx.context_get("backend")
  nauthilus_backend.select_backend_server(b.host, b.port)`, 1)

var modulesSelectScript = strings.Replace(contextSelectScript,
	"  nauthilus_backend.select_backend_server(b.host, b.port)",
	`  nauthilus_backend.select_backend_server(b.host, b.port)
  require("nauthilus_cache").cache_set("last:" .. request.username, b.host, 60)
  local prom = require("nauthilus_prometheus")
  prom.create_counter_vec("bench_selected_total", "selected", { "host" })
  prom.increment_counter("bench_selected_total", { host = b.host })`, 1)

// BenchmarkFilterModules runs the routing filter plain, with
// nauthilus_context, and with context + cache + prometheus, interleaved
// in one run; each request is fresh (its own context), as in the daemon.
// go test -run '^$' -bench FilterModules -benchtime 20000x ./internal/lua/
func BenchmarkFilterModules(b *testing.B) {
	for _, c := range []struct{ name, src string }{
		{"plain", hashSelectScript}, {"context", contextSelectScript}, {"context+cache+prom", modulesSelectScript},
	} {
		b.Run(c.name, func(b *testing.B) {
			path := b.TempDir() + "/bench.lua"
			if err := os.WriteFile(path, []byte(c.src), 0o600); err != nil {
				b.Fatal(err)
			}
			e, err := NewEngine(Options{
				Config: config.Lua{Filters: []config.LuaFilter{{Name: "bench", ScriptPath: path}},
					Config: config.LuaConfig{VMPoolSize: 4}},
				Health: tenTargets(),
			})
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			users := make([]string, 64)
			for i := range users {
				users[i] = fmt.Sprintf("user%d@example.org", i)
			}
			ctx := context.Background()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				req := &Request{Username: users[i%len(users)], Password: "pw", Authenticated: true}
				out, err := e.RunFilters(ctx, req)
				if err != nil || out.Selected == nil {
					b.Fatal(err, out)
				}
				i++
			}
		})
	}
}
