package lua

import (
	"context"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backline/backline/internal/config"
)

// TestUnknownMetricNamesAreNotKept: using a metric nobody created logs a
// warning once per name; the name was kept whole in a process-wide map
// (and logged whole), so each run could pin a string as large as its
// budget for the life of the daemon. Names are now cut before they are
// kept or logged.
func TestUnknownMetricNamesAreNotKept(t *testing.T) {
	src := `function nauthilus_call_filter(request)
  local big = string.rep("n", 8 * 1024 * 1024)
  for i = 1, 3 do nauthilus_prometheus.increment_counter(big .. i, {}) end
  ` + acceptReturn + `
end`
	e, logs := newEngineWith(t, engineSetup{filters: []config.LuaFilter{filter(t, "f", src)}}, nil)
	host := e.host
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if _, err := e.RunFilters(context.Background(), &Request{Username: "u"}); err != nil {
		t.Fatalf("%v\n%s", err, logs.String())
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > 8<<20 {
		t.Fatalf("the heap kept %d bytes after the run (names of 8 MiB pinned)", grown)
	}
	m := host.metrics()
	m.mu.Lock()
	kept := 0
	for k := range m.warned {
		kept += len(k)
	}
	m.mu.Unlock()
	if kept > 4096 {
		t.Fatalf("the unknown-metric warnings keep %d bytes of names", kept)
	}
	if n := len(logs.String()); n > 64<<10 {
		t.Fatalf("the warnings logged %d bytes", n)
	}
}

// heapAfterRun runs src as the only filter of an engine on host, closes
// the engine (its states and whatever they still reference) and returns
// how much more heap is in use than before.
func heapAfterRun(t *testing.T, host *Host, src string) int64 {
	t.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	func() {
		e, err := NewEngine(Options{
			Config: config.Lua{Filters: []config.LuaFilter{filter(t, "f", src)}, Config: config.LuaConfig{ScriptTimeout: time.Minute, VMPoolSize: 1}},
			Host:   host,
			Logger: newTestLogger(&syncBuffer{}),
		})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		if _, err := e.RunFilters(context.Background(), &Request{Username: "u"}); err != nil {
			t.Fatal(err)
		}
	}()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(host)
	return int64(after.HeapAlloc) - int64(before.HeapAlloc)
}

// TestProcessWideStoresCopyStrings: string.sub (and split, match...) give
// a string that shares its source's bytes. The cache, metric label values
// and psnet targets kept such a string as given, so a 1-byte cached value
// counted as 1 byte pinned a source as large as the run's budget after the
// run ended: the cache's bound did not bound memory. Stores now copy.
func TestProcessWideStoresCopyStrings(t *testing.T) {
	for name, store := range map[string]string{
		"cache value": `nauthilus_cache.cache_set("k" .. i, piece)`,
		"cache key":   `nauthilus_cache.cache_set(piece, true)`,
		"cache push":  `nauthilus_cache.cache_push("list", piece)`,
		"psnet":       `nauthilus_psnet.register_connection_target("127.0.0.1:" .. i, "remote", piece)`,
		"label value": `nauthilus_prometheus.increment_counter("review_pin_total", {l = piece})`,
	} {
		t.Run(name, func(t *testing.T) {
			src := `function nauthilus_call_filter(request)
  pcall(nauthilus_prometheus.create_counter_vec, "review_pin_total", "h", {"l"})
  for i = 1, 3 do
    local big = string.rep(tostring(i), 8 * 1024 * 1024)
    local piece = string.sub(big, 1, 20)
    ` + store + `
  end
  ` + acceptReturn + `
end`
			if grown := heapAfterRun(t, NewHost(), src); grown > 8<<20 {
				t.Fatalf("the heap kept %d bytes after the run (8 MiB sources pinned by 20-byte pieces)", grown)
			}
		})
	}
}

// TestMetricDefinitionsAreBounded: a vector's name, help and label names
// are kept by the registry for the daemon's life and written on every
// /metrics scrape; up to 1000 vectors with help texts as large as a run's
// budget were accepted.
func TestMetricDefinitionsAreBounded(t *testing.T) {
	for name, call := range map[string]string{
		"help":        `nauthilus_prometheus.create_counter_vec("review_big_help", string.rep("h", 1024 * 1024), {"a"})`,
		"name":        `nauthilus_prometheus.create_gauge_vec(string.rep("n", 1024 * 1024), "h", {"a"})`,
		"label name":  `nauthilus_prometheus.create_gauge_vec("review_big_label", "h", {string.rep("l", 1024 * 1024)})`,
		"label count": `local l = {} for i = 1, 10000 do l[i] = "l" .. i end nauthilus_prometheus.create_histogram_vec("review_many_labels", "h", l)`,
	} {
		t.Run(name, func(t *testing.T) {
			src := `function nauthilus_call_filter(request)
  local ok, err = pcall(function() ` + call + ` end)
  assert(not ok and tostring(err):find("too long", 1, true) or tostring(err):find("too many", 1, true), tostring(err))
  ` + acceptReturn + `
end`
			if _, err, logs := runOne(t, src, engineSetup{}); err != nil {
				t.Fatalf("%v\n%s", err, logs.String())
			}
		})
	}
}

// TestMetricDefinitionsNeverCarryThePassword: label values were scrubbed
// of the request password, but a vector's help text (and a name or label
// name, when the password is a valid one) went to /metrics as given.
func TestMetricDefinitionsNeverCarryThePassword(t *testing.T) {
	const password = "Summer2024"
	src := `function nauthilus_call_filter(request)
  nauthilus_prometheus.create_counter_vec("review_careless_total", "help " .. request.password, {"l"})
  nauthilus_prometheus.increment_counter("review_careless_total", {l = "x"})
  pcall(nauthilus_prometheus.create_counter_vec, request.password, "h", {"l"})
  pcall(nauthilus_prometheus.create_gauge_vec, "review_careless_gauge", "h", {request.password})
  pcall(nauthilus_prometheus.increment_gauge, "review_careless_gauge", {[request.password] = "x"})
  pcall(nauthilus_prometheus.increment_counter, request.password, {l = "x"})
  ` + acceptReturn + `
end`
	reg := prometheus.NewRegistry()
	e, logs := newEngineWith(t, engineSetup{filters: []config.LuaFilter{filter(t, "f", src)}}, func(e *Engine) { e.host.Registerer = reg })
	if _, err := e.RunFilters(context.Background(), &Request{Username: "u", Password: password}); err != nil {
		t.Fatalf("%v\n%s", err, logs.String())
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	for _, f := range families {
		text.WriteString(f.String())
	}
	if strings.Contains(text.String(), password) {
		t.Fatalf("/metrics carries the password:\n%s", text.String())
	}
	if strings.Contains(logs.String(), password) {
		t.Fatalf("the log carries the password:\n%s", logs.String())
	}
}

// TestScriptErrorTextIsBounded: a script's error message went whole into
// the error and the ERROR log line, so every failing request could write
// a log line as large as the run's budget. It is cut after the password
// is scrubbed (so no prefix of the password survives a cut).
func TestScriptErrorTextIsBounded(t *testing.T) {
	for _, pad := range []int{0, maxScriptErrorText - 4} {
		src := `function nauthilus_call_filter(request)
  error(string.rep("a", ` + strconv.Itoa(pad) + `) .. request.password .. string.rep("b", 4 * 1024 * 1024), 0)
end`
		_, err, logs := runOne(t, src, engineSetup{})
		if err == nil {
			t.Fatal("want an error")
		}
		if n := len(err.Error()); n > 2*maxScriptErrorText {
			t.Fatalf("error text of %d bytes", n)
		}
		if n := len(logs.String()); n > 4*maxScriptErrorText {
			t.Fatalf("log of %d bytes", n)
		}
		for _, text := range []string{err.Error(), logs.String()} {
			if strings.Contains(text, "s3cret") {
				t.Fatalf("a prefix of the password survived: %.200q", text)
			}
		}
	}
}

// TestPrintNeverLogsAPasswordPrefix: print cut its text at 4096 bytes
// before the log line was scrubbed, so a password across the cut left its
// first bytes in the log.
func TestPrintNeverLogsAPasswordPrefix(t *testing.T) {
	src := `function nauthilus_call_filter(request)
  print(string.rep("a", 4096 - 6) .. request.password)
  ` + acceptReturn + `
end`
	_, err, logs := runOne(t, src, engineSetup{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "s3cret") {
		t.Fatalf("the log keeps a prefix of the password: %q", logs.String()[len(logs.String())-200:])
	}
}
