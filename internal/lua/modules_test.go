package lua

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
)

// The module test corpus: Lua scripts under testdata/modules run through
// the real engine (compile, pooled state, sandbox, per-run module binding).
// A script whose first line is "-- backline-test: standalone" is run by
// TestModuleScripts as the only filter of a fresh engine and must return
// without error. Further words on that line adjust the run:
//
//	max_memory=N     lua.config.max_memory in bytes
//	cache_max=N      Host.CacheMaxBytes (nauthilus_cache's bound)
//	expect-error=T   the run must fail with an error containing T (the
//	                 rest of the line)
//
// The other scripts are parts of the multi-script tests below.

const modulesDir = "testdata/modules"

type moduleScriptSpec struct {
	maxMemory, cacheMax int64
	expectError         string
}

func parseModuleHeader(t *testing.T, path string) (moduleScriptSpec, bool) {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(src), "\n")
	rest, ok := strings.CutPrefix(first, "-- backline-test: standalone")
	if !ok {
		return moduleScriptSpec{}, false
	}
	var spec moduleScriptSpec
	if before, after, found := strings.Cut(rest, "expect-error="); found {
		spec.expectError = strings.TrimSpace(after)
		rest = before
	}
	for _, f := range strings.Fields(rest) {
		for prefix, dst := range map[string]*int64{"max_memory=": &spec.maxMemory, "cache_max=": &spec.cacheMax} {
			if v, ok := strings.CutPrefix(f, prefix); ok {
				b, err := config.ParseByteSize(v)
				if err != nil {
					t.Fatalf("%s: %v", path, err)
				}
				*dst = int64(b)
			}
		}
	}
	return spec, true
}

// moduleEngine is an engine whose filters are the named module scripts, in
// that order, with testdata/modules as package_path (for testlib).
func moduleEngine(t *testing.T, host *Host, maxMemory int64, names ...string) *Engine {
	t.Helper()
	dir, err := filepath.Abs(modulesDir)
	if err != nil {
		t.Fatal(err)
	}
	var filters []config.LuaFilter
	for _, name := range names {
		filters = append(filters, config.LuaFilter{Name: strings.TrimSuffix(name, ".lua"), ScriptPath: filepath.Join(dir, name)})
	}
	cfg := config.LuaConfig{PackagePath: filepath.Join(dir, "?.lua"), ScriptTimeout: time.Minute, VMPoolSize: 4} // generous: -race on a loaded machine
	if maxMemory > 0 {
		cfg.MaxMemory = config.ByteSize(maxMemory)
	}
	logs := &syncBuffer{}
	e, err := NewEngine(Options{Config: config.Lua{Filters: filters, Config: cfg}, Logger: newTestLogger(logs), Host: host})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

func TestModuleScripts(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join(modulesDir, "*.lua"))
	if err != nil {
		t.Fatal(err)
	}
	ran := 0
	for _, path := range paths {
		spec, ok := parseModuleHeader(t, path)
		if !ok {
			continue
		}
		ran++
		name := filepath.Base(path)
		t.Run(strings.TrimSuffix(name, ".lua"), func(t *testing.T) {
			host := NewHost()
			clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
			host.Now = clock.Now
			host.CacheMaxBytes = spec.cacheMax
			e := moduleEngine(t, host, spec.maxMemory, name)
			e.testGlobals = testClockGlobals(clock)
			_, err := e.RunFilters(context.Background(), &Request{Username: "alice", Protocol: "imap"})
			switch {
			case spec.expectError == "" && err != nil:
				t.Fatal(err)
			case spec.expectError != "" && err == nil:
				t.Fatalf("ran without error, want one containing %q", spec.expectError)
			case spec.expectError != "" && !strings.Contains(err.Error(), spec.expectError):
				t.Fatalf("error %q does not contain %q", err, spec.expectError)
			}
		})
	}
	if ran < 5 {
		t.Fatalf("only %d standalone module scripts found", ran)
	}
}

// fakeClock is the modules' clock in tests; scripts move it with
// test_advance_clock(seconds).
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func modulesDirAbs(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(modulesDir)
	if err != nil {
		t.Fatal(err)
	}
	return dir
}
