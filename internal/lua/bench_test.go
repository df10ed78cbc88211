package lua

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/backline/backline/internal/config"
)

// BenchmarkRunFilter is one filter choosing among 10 healthy targets by a
// hash of the username. BenchmarkRunFilterBaseline runs a filter that only
// returns, measured in the same run, so the ratio shows what the backend
// API and the hash cost over the fixed per-request overhead.
func BenchmarkRunFilter(b *testing.B) {
	benchFilter(b, hashSelectScript)
}

func BenchmarkRunFilterBaseline(b *testing.B) {
	benchFilter(b, "function nauthilus_call_filter(r) return false, 0 end")
}

func benchFilter(b *testing.B, src string) {
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
	defer e.Close()
	reqs := make([]*Request, 64)
	for i := range reqs {
		reqs[i] = &Request{Username: fmt.Sprintf("user%d@example.org", i), Password: "pw", Authenticated: true}
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if _, err := e.RunFilters(ctx, reqs[i%len(reqs)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkRunFilters5 is five copies of the routing filter on one request,
// the parallel path (compare with 5x BenchmarkRunFilter).
func BenchmarkRunFilters5(b *testing.B) {
	dir := b.TempDir()
	var filters []config.LuaFilter
	for i := range 5 {
		path := fmt.Sprintf("%s/f%d.lua", dir, i)
		if err := os.WriteFile(path, []byte(hashSelectScript), 0o600); err != nil {
			b.Fatal(err)
		}
		filters = append(filters, config.LuaFilter{Name: fmt.Sprintf("f%d", i), ScriptPath: path})
	}
	e, err := NewEngine(Options{
		Config: config.Lua{Filters: filters, Config: config.LuaConfig{VMPoolSize: 10}},
		Health: tenTargets(),
	})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	req := &Request{Username: "user1@example.org", Password: "pw", Authenticated: true}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		out, err := e.RunFilters(ctx, req)
		if err != nil || out.Selected == nil {
			b.Fatal(err, out)
		}
	}
}
