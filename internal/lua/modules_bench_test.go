package lua

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

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

// tableSelectScript does the script-side work of contextSelectScript
// (require, a two-field table, reading it back) without the module calls.
var tableSelectScript = strings.Replace(hashSelectScript,
	"  nauthilus_backend.select_backend_server(s.host, s.port)",
	`  local ctx = require("nauthilus_context")
  local b = { host = s.host, port = s.port }
  nauthilus_backend.select_backend_server(b.host, b.port)`, 1)

var modulesSelectScript = strings.Replace(contextSelectScript,
	"  nauthilus_backend.select_backend_server(b.host, b.port)",
	`  nauthilus_backend.select_backend_server(b.host, b.port)
  require("nauthilus_cache").cache_set("last:" .. request.username, b.host, 60)
  local prom = require("nauthilus_prometheus")
  prom.create_counter_vec("bench_selected_total", "selected", { "host" })
  prom.increment_counter("bench_selected_total", { host = b.host })`, 1)

var moduleBenchVariants = []struct{ name, src string }{
	{"plain", hashSelectScript}, {"table", tableSelectScript}, {"context", contextSelectScript},
	{"context+cache+prom", modulesSelectScript},
}

func moduleBenchEngine(b *testing.B, src string) *Engine {
	path := b.TempDir() + "/bench.lua"
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
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
	b.Cleanup(e.Close)
	return e
}

// runModuleBench serves one fresh request (its own context, as in the
// daemon) for user i.
func runModuleBench(b *testing.B, e *Engine, i int) {
	req := &Request{Username: fmt.Sprintf("user%d@example.org", i%64), Password: "pw", Authenticated: true}
	out, err := e.RunFilters(context.Background(), req)
	if err != nil || out.Selected == nil {
		b.Fatal(err, out)
	}
}

// BenchmarkFilterModules runs the routing filter plain, with
// nauthilus_context, and with context + cache + prometheus.
// go test -run '^$' -bench FilterModules -benchtime 20000x ./internal/lua/
func BenchmarkFilterModules(b *testing.B) {
	for _, c := range moduleBenchVariants {
		b.Run(c.name, func(b *testing.B) {
			e := moduleBenchEngine(b, c.src)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				runModuleBench(b, e, i)
				i++
			}
		})
	}
}

// BenchmarkFilterModulesRatio interleaves the three variants in rounds of
// 200 requests each and reports the median per-round ratio to the plain
// filter, which a loaded machine's drift affects far less than separate
// sub-benchmarks. go test -run '^$' -bench FilterModulesRatio -benchtime 100x
func BenchmarkFilterModulesRatio(b *testing.B) {
	engines := make([]*Engine, len(moduleBenchVariants))
	for i, c := range moduleBenchVariants {
		engines[i] = moduleBenchEngine(b, c.src)
	}
	const perRound = 200
	ratios := make([][]float64, len(engines))
	for b.Loop() {
		took := make([]time.Duration, len(engines))
		for v, e := range engines {
			start := time.Now()
			for i := range perRound {
				runModuleBench(b, e, i)
			}
			took[v] = time.Since(start)
		}
		for v := range engines {
			ratios[v] = append(ratios[v], float64(took[v])/float64(took[0]))
		}
	}
	for v, c := range moduleBenchVariants[1:] {
		r := ratios[v+1]
		sort.Float64s(r)
		b.ReportMetric(r[len(r)/2], c.name+"/plain")
	}
}
