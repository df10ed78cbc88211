package lua

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	glua "github.com/yuin/gopher-lua"

	"github.com/backline/backline/internal/config"
)

// smallBudget keeps the tests' own memory use low.
const smallBudget = 1 << 20

func budgetSetup(timeout time.Duration) engineSetup {
	return engineSetup{cfg: config.LuaConfig{MaxMemory: smallBudget, ScriptTimeout: timeout}}
}

func filterBody(body string) string {
	return "function nauthilus_call_filter(r)\n" + body + "\n" + acceptReturn + "\nend"
}

// expectMemoryError runs body and wants a memory error, an ERROR log naming
// the script, and an answer well before the timeout: within half of it (a
// fixed 2 s was once the bound, which a starved -race run can miss; the
// engine is built inside the measured time).
func expectMemoryError(t *testing.T, body string, s engineSetup) {
	t.Helper()
	timeout := s.cfg.ScriptTimeout
	if timeout == 0 {
		timeout = 10 * time.Second // newEngineWith's
	}
	start := time.Now()
	_, err, logs := runOne(t, filterBody(body), s)
	elapsed := time.Since(start)
	var se *ScriptError
	if !errors.As(err, &se) || !se.Memory || se.Timeout {
		t.Fatalf("err = %#v (%v)", err, err)
	}
	if !strings.Contains(se.Msg, "memory budget exceeded") {
		t.Errorf("message = %q", se.Msg)
	}
	if elapsed > timeout/2 {
		t.Errorf("took %s; script_timeout is %s", elapsed, timeout)
	}
	if l := logs.String(); !strings.Contains(l, "level=ERROR") || !strings.Contains(l, "script=f") || !strings.Contains(l, "memory budget exceeded") {
		t.Errorf("log = %s", l)
	}
}

// TestNativeAllocationsOverBudgetRefused: the library functions that build
// large values check the size first (small sizes, safe on the old code).
func TestNativeAllocationsOverBudgetRefused(t *testing.T) {
	for name, body := range map[string]string{
		"rep":        `local s = string.rep("x", 4 * 1024 * 1024)`,
		"rep method": `local s = ("xy"):rep(3 * 1024 * 1024)`,
		"format":     `local s = string.format(string.rep("%99s", 20000), "a")`,
		"concat":     `local t = {} for i = 1, 5 do t[i] = string.rep("x", 300000) end local s = table.concat(t, string.rep("-", 100000))`,
		"gsub":       `local s = string.gsub(string.rep("x", 200000), "x", "yyyyyyyyyy")`,
		"gsub empty": `local s = string.gsub(string.rep("x", 200000), "", "abcdefgh")`,
		"gsub func":  `local big = string.rep("z", 100000) local s = string.gsub(string.rep("x", 100), "x", function() return big end)`,
		"os.date":    `local s = os.date(string.rep("%c", 200000))`,
		"upper":      `local s = string.upper(string.rep("\255", 400000))`,
		"pcall":      `local ok = pcall(string.rep, "x", 4 * 1024 * 1024) local s = "still running"`,
	} {
		t.Run(name, func(t *testing.T) { expectMemoryError(t, body, budgetSetup(10*time.Second)) })
	}
}

// TestFormatWidthLimitedLikeLua51: Go's fmt would pad to a million.
func TestFormatWidthLimitedLikeLua51(t *testing.T) {
	for _, f := range []string{"%999999s", "%.999999f", "%[1]100d", "%-0123d"} {
		_, err, _ := runOne(t, filterBody(`local s = string.format("`+f+`", 1)`), engineSetup{})
		if err == nil || !strings.Contains(err.Error(), "width or precision too long") {
			t.Errorf("%s: err = %v", f, err)
		}
	}
	out, err, _ := runOne(t, filterBody(`nauthilus_builtin.status_message_set(string.format("%5s|%-3d|%.2f|%q|%%|%x", "ab", 7, 1.5, "q", 255))`), engineSetup{})
	if err != nil || out.StatusMessage != `   ab|7  |1.50|"q"|%|ff` {
		t.Errorf("status = %q, err = %v", out.StatusMessage, err)
	}
}

// TestStringRepHugeIsAnErrorNotACrash: issue 9's first daemon killer.
func TestStringRepHugeIsAnErrorNotACrash(t *testing.T) {
	expectMemoryError(t, `local s = string.rep("x", 1e11)`, engineSetup{})
	expectMemoryError(t, `local s = string.rep("x", 1e300)`, engineSetup{})
}

// TestThreeGigabyteRepRefusedBeforeAllocating: refused at once, not after
// allocating. What the process allocated meanwhile says so without a
// clock: it once ran under a 1 s script_timeout and had to answer within
// 900 ms, which a starved -race run can miss.
func TestThreeGigabyteRepRefusedBeforeAllocating(t *testing.T) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	expectMemoryError(t, `local s = string.rep("x", 3e9)`, engineSetup{cfg: config.LuaConfig{ScriptTimeout: 20 * time.Second}})
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<30 {
		t.Errorf("the process allocated %d bytes during the run; the 3 GB string was built before it was refused", grew)
	}
}

// TestGrowthLoopsStopped: what the VM builds itself is caught by the
// watchdog's measurements.
func TestGrowthLoopsStopped(t *testing.T) {
	for name, body := range map[string]string{
		"concat doubling":    `local s = "x" for i = 1, 40 do s = s .. s end`,
		"global doubling":    `s = "x" for i = 1, 40 do s = s .. s end`,
		"table growth":       `local t = {} for i = 1, 1e9 do t[i] = i end`,
		"bounded growth":     `local t = {} for i = 1, 1e6 do t[i] = i end`,
		"table of strings":   `local t = {} for i = 1, 1e9 do t[#t + 1] = "row " .. i end`,
		"nested tables":      `local t = {} for i = 1, 1e9 do t[i] = {i} end`,
		"in a coroutine":     `coroutine.wrap(function() local s = "x" for i = 1, 40 do s = s .. s end end)()`,
		"coroutines":         `local t = {} for i = 1, 1e9 do t[i] = coroutine.create(print) end`,
		"upvalue growth":     `local t = {} local function add(i) t[i] = i end for i = 1, 1e9 do add(i) end`,
		"caught and retried": `for k = 1, 3 do pcall(function() local t = {} for i = 1, 1e9 do t[i] = i end end) end`,
	} {
		t.Run(name, func(t *testing.T) { expectMemoryError(t, body, budgetSetup(20*time.Second)) })
	}
}

// TestOtherRunsUnaffected: while one filter is stopped for its memory, the
// others on the same engine answer normally.
func TestOtherRunsUnaffected(t *testing.T) {
	s := budgetSetup(20 * time.Second)
	s.filters = []config.LuaFilter{
		filter(t, "hog", filterBody(`if r.username == "hog" then local t = {} for i = 1, 1e9 do t[i] = i end end`)),
	}
	e, _ := newEngine(t, s)
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user := "alice"
			if i == 0 {
				user = "hog"
			}
			_, errs[i] = e.RunFilters(context.Background(), &Request{Username: user})
		}()
	}
	wg.Wait()
	var se *ScriptError
	if !errors.As(errs[0], &se) || !se.Memory {
		t.Errorf("hog: %v", errs[0])
	}
	for i, err := range errs[1:] {
		if err != nil {
			t.Errorf("run %d: %v", i+1, err)
		}
	}
}

// TestProcessSoftLimitStopsTheLargestRun: over the process-wide limit the
// run holding the most is stopped; a small run next to it is not.
func TestProcessSoftLimitStopsTheLargestRun(t *testing.T) {
	s := engineSetup{cfg: config.LuaConfig{MaxMemory: 256 << 20, ScriptTimeout: 20 * time.Second}}
	s.filters = []config.LuaFilter{filter(t, "f", filterBody(`
if r.username == "hog" then
  local t = {}
  for i = 1, 1e9 do t[i] = i end
else
  local t0 = os.clock()
  while os.clock() - t0 < 0.3 do end
end`))}
	logs := &syncBuffer{}
	e, err := NewEngine(Options{
		Config: config.Lua{Filters: s.filters, Config: s.cfg}, MemorySoftLimit: 1,
		Logger: newTestLogger(logs),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	var wg sync.WaitGroup
	var hogErr, smallErr error
	wg.Add(2)
	go func() { defer wg.Done(); _, hogErr = e.RunFilters(context.Background(), &Request{Username: "hog"}) }()
	go func() { defer wg.Done(); _, smallErr = e.RunFilters(context.Background(), &Request{Username: "small"}) }()
	wg.Wait()
	var se *ScriptError
	if !errors.As(hogErr, &se) || !se.Memory || !strings.Contains(se.Msg, "soft limit") {
		t.Errorf("hog: %v", hogErr)
	}
	if smallErr != nil {
		t.Errorf("small run: %v", smallErr)
	}
	if e.Stats().ProcessLimitStops < 1 {
		t.Errorf("stats = %+v", e.Stats())
	}
}

// TestTimeoutInsideNativeCallAbandonsTheRun: the caller gets its answer at
// the deadline even inside a native call; the state is never reused and
// holds its pool slot until the call returns. The script_timeout is 1 s
// (100 ms once: under -race on a loaded machine a run timed out before it
// reached the native call, 1 of 50).
func TestTimeoutInsideNativeCallAbandonsTheRun(t *testing.T) {
	release := make(chan struct{})
	s := engineSetup{cfg: config.LuaConfig{ScriptTimeout: time.Second, VMPoolSize: 1}}
	s.filters = []config.LuaFilter{filter(t, "f", filterBody(`if r.username == "slow" then block_natively() end`))}
	e, logs := newEngineWith(t, s, func(e *Engine) {
		e.testGlobals = map[string]glua.LGFunction{"block_natively": func(*glua.LState) int {
			select {
			case <-release:
			case <-time.After(time.Minute):
			}
			return 0
		}}
	})
	start := time.Now()
	_, err := e.RunFilters(context.Background(), &Request{Username: "slow"})
	elapsed := time.Since(start)
	var se *ScriptError
	if !errors.As(err, &se) || !se.Timeout || !strings.Contains(se.Msg, "native call") {
		t.Fatalf("err = %v", err)
	}
	if elapsed > 30*time.Second { // the native call blocks for a minute; the deadline is 1 s
		t.Errorf("answered after %s; script_timeout is 1s", elapsed)
	}
	if st := e.Stats(); st.AbandonedRuns != 1 || st.AbandonedRunning != 1 {
		t.Errorf("stats = %+v", st)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(e.Collectors()...)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		m := f.GetMetric()[0]
		got[f.GetName()] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
	}
	if got["backline_lua_abandoned_runs_total"] != 1 || got["backline_lua_abandoned_running"] != 1 || got["backline_lua_process_limit_stops_total"] != 0 {
		t.Errorf("metrics = %v", got)
	}
	if n := strings.Count(logs.String(), "Lua filter failed"); n != 1 {
		t.Errorf("%d failure logs:\n%s", n, logs.String())
	}
	// The only slot is still held by the abandoned run.
	if _, err := e.RunFilters(context.Background(), &Request{Username: "alice"}); err == nil || !strings.Contains(err.Error(), "timed out after 1s waiting for a free Lua state") {
		t.Errorf("second run: %v", err)
	}
	close(release)
	deadline := time.Now().Add(time.Minute) // at once; a minute only for a starved machine
	for e.Stats().AbandonedRunning != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if e.pool.idleCount() != 0 {
		t.Error("the abandoned state went back to the pool")
	}
	nextRequestGetsTheState(t, e, "after the native call returned") // a fresh state within 1 s: tried again on a slow machine
	if n := strings.Count(logs.String(), "Lua filter failed"); n != 2 {
		t.Errorf("want the abandoned run and the refused run logged once each:\n%s", logs.String())
	}
}

// TestConversionOfSharedSubtablesBounded: ten references per level on six
// levels is a million values once expanded for JSON or attributes (and a
// hundred million on eight, still a few hundred bytes of Lua).
func TestConversionOfSharedSubtablesBounded(t *testing.T) {
	body := `local t = {"leaf"}
for level = 1, 6 do
  local next = {}
  for i = 1, 10 do next[i] = t end
  t = next
end
local s, err = nauthilus_json.encode(t)
nauthilus_builtin.status_message_set(tostring(s) .. "|" .. tostring(err))`
	// The error message is the check: without the bound the million
	// values convert and encode. About a million values are converted
	// before it stops, seconds under -race on a loaded machine (it passed
	// a 10 s script_timeout in CI once), so the run gets minutes; no clock.
	out, err, _ := runOne(t, filterBody(body), engineSetup{cfg: config.LuaConfig{ScriptTimeout: 3 * time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.StatusMessage, "nil|json encode: value too large to convert") {
		t.Errorf("status = %.200q", out.StatusMessage)
	}
}

// TestStackBoundedByRegistry: unpack and string.byte push one value per
// element; the fixed-size registry (5120 slots) refuses them.
func TestStackBoundedByRegistry(t *testing.T) {
	for _, body := range []string{`local t = {unpack({}, 1, 1e9)}`, `local t = {string.byte(string.rep("x", 100000), 1, -1)}`} {
		_, err, _ := runOne(t, filterBody(body), engineSetup{})
		if err == nil || !strings.Contains(err.Error(), "registry overflow") {
			t.Errorf("%s: err = %v", body, err)
		}
	}
}

// TestJSONDecodeChargedBeforeDecoding: nauthilus_json.decode of a 20 MB
// array of zeros (within the 64 MiB budget as text) expanded inside one
// native call to 600-900 MB before any measurement could stop it.
func TestJSONDecodeChargedBeforeDecoding(t *testing.T) {
	src := `function nauthilus_call_filter(r)
  local s = "[" .. string.rep("0,", 1e6) .. "0]"
  local t = nauthilus_json.decode(s)
  ` + acceptReturn + `
end`
	_, err, _ := runOne(t, src, engineSetup{cfg: config.LuaConfig{MaxMemory: 32 << 20}})
	if err == nil || !strings.Contains(err.Error(), "was asked for") {
		t.Fatalf("err = %v, want the budget refusing the decode up front", err)
	}
	ok := `function nauthilus_call_filter(r)
  local t = nauthilus_json.decode('{"a":[1,2,3],"b":{"c":"d"}}')
  nauthilus_builtin.status_message_set(t.b.c .. #t.a)
  ` + acceptReturn + `
end`
	if got := statusOf(t, ok, engineSetup{}); got != "d3" {
		t.Errorf("status = %q", got)
	}
}
