package lua

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	glua "github.com/yuin/gopher-lua"

	"github.com/backline/backline/internal/config"
)

// Findings of the module security review (issue 12): allocations that grow
// with script input must be charged before they happen.

// TestMustacheChecksEveryLargeWrite: a template repeating a large value
// fewer than 256 times was checked only after the whole output was built
// (255 × a 256 KiB string = 64 MiB before the first check). Each write is
// now checked with the size it will have, escaped values at their worst
// (5 bytes per byte), so the output never passes the bound by more than
// one small text node.
func TestMustacheChecksEveryLargeWrite(t *testing.T) {
	L := glua.NewState(glua.Options{SkipOpenLibs: true})
	defer L.Close()
	const limit = 1 << 20
	errTooBig := errors.New("too big")
	for name, tmpl := range map[string]string{
		"raw":     strings.Repeat("{{{s}}}", 200),
		"amp":     strings.Repeat("{{&s}}", 200),
		"escaped": strings.Repeat("{{q}}", 200),
		"section": "{{#l}}" + strings.Repeat("{{{s}}}", 100) + "{{/l}}",
	} {
		t.Run(name, func(t *testing.T) {
			nodes, err := parseMustache(tmpl)
			if err != nil {
				t.Fatal(err)
			}
			values := L.CreateTable(0, 3)
			values.RawSetString("s", glua.LString(strings.Repeat("x", 256<<10)))
			values.RawSetString("q", glua.LString(strings.Repeat(`"`, 256<<10))) // &#34;: 5 bytes each
			list := L.CreateTable(2, 0)
			list.RawSetInt(1, glua.LTrue)
			list.RawSetInt(2, glua.LTrue)
			values.RawSetString("l", list)
			m := &mustacheRender{stack: []glua.LValue{values}, check: func(size int) error {
				if size > limit {
					return errTooBig
				}
				return nil
			}}
			if err := m.render(nodes); !errors.Is(err, errTooBig) {
				t.Fatalf("render = %v, want the bound's error", err)
			}
			if m.out.Len() > limit {
				t.Fatalf("output grew to %d bytes before the check stopped it (bound %d)", m.out.Len(), limit)
			}
		})
	}
}

// TestHostToLuaChargesWhatItBuilds: the Lua tables made from a stored
// value (nauthilus_context, nauthilus_cache) were charged at the stored
// size, 32 bytes a value, while a table with one string key costs gopher-
// lua about 750 bytes: one read built up to 8 times what it was charged.
// The charge now counts what building allocates, measured here.
func TestHostToLuaChargesWhatItBuilds(t *testing.T) {
	L := glua.NewState(glua.Options{SkipOpenLibs: true})
	defer L.Close()
	const n = 20000
	shapes := map[string]func() glua.LValue{
		"empty tables": func() glua.LValue {
			l := L.CreateTable(n, 0)
			for i := 1; i <= n; i++ {
				l.RawSetInt(i, L.CreateTable(0, 0))
			}
			return l
		},
		"one-key maps": func() glua.LValue {
			l := L.CreateTable(n, 0)
			for i := 1; i <= n; i++ {
				m := L.CreateTable(0, 1)
				m.RawSetString("a", glua.LTrue)
				l.RawSetInt(i, m)
			}
			return l
		},
		"number-key maps": func() glua.LValue {
			l := L.CreateTable(n, 0)
			for i := 1; i <= n; i++ {
				m := L.CreateTable(0, 1)
				m.RawSetH(glua.LNumber(0.5), glua.LTrue)
				l.RawSetInt(i, m)
			}
			return l
		},
		"one big hash": func() glua.LValue {
			m := L.CreateTable(0, 0)
			for i := 1; i <= n; i++ {
				m.RawSetString(strings.Repeat("k", i%7+1)+string(rune(i)), glua.LNumber(i))
			}
			return m
		},
		"strings": func() glua.LValue {
			l := L.CreateTable(n, 0)
			for i := 1; i <= n; i++ {
				l.RawSetInt(i, glua.LString("v"))
			}
			return l
		},
	}
	for name, build := range shapes {
		t.Run(name, func(t *testing.T) {
			v, stored, err := hostValueOf(build(), 1<<30)
			if err != nil {
				t.Fatal(err)
			}
			b := &luaBuild{charge: func(int64) {}}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			out := hostToLuaDepth(L, v, 0, b)
			runtime.ReadMemStats(&after)
			runtime.KeepAlive(out)
			allocated := int64(after.TotalAlloc - before.TotalAlloc)
			t.Logf("stored size %d, allocated %d, charged %d", stored, allocated, b.total)
			if b.total < allocated {
				t.Fatalf("charged %d bytes for %d allocated", b.total, allocated)
			}
		})
	}
}

// TestContextGetChargesTheTablesItBuilds: one context_get of a value
// counted at about 150 KB (1500 one-key maps) builds more than 1 MiB of
// gopher-lua tables; with max_memory 1 MiB the read itself is stopped (it
// was charged the stored size and the run went on holding the tables).
func TestContextGetChargesTheTablesItBuilds(t *testing.T) {
	src := `function nauthilus_call_filter(request)
  local l = {}
  for i = 1, 1500 do l[i] = {a = true} end
  nauthilus_context.context_set("k", l)
  l = nil
  local copy = nauthilus_context.context_get("k")
  ` + acceptReturn + `
end`
	cfg := config.LuaConfig{MaxMemory: config.MinLuaMaxMemory}
	_, err, _ := runOne(t, src, engineSetup{cfg: cfg})
	var se *ScriptError
	if !errors.As(err, &se) || !se.Memory || !strings.Contains(se.Msg, "a result of") {
		t.Fatalf("want a memory stop in context_get, got %v", err)
	}
}

// TestAllRequestHeadersCharged: get_all_http_request_headers builds a
// table and a list per header name (about 450 bytes each in gopher-lua);
// 10000 headers (what a 64 KiB request head holds) built ~5 MB per call
// uncharged. The call is now charged before it builds.
func TestAllRequestHeadersCharged(t *testing.T) {
	src := `local http_request = require("nauthilus_http_request")
function nauthilus_call_filter(request)
  local all = http_request.get_all_http_request_headers()
  ` + acceptReturn + `
end`
	e, logs := newEngine(t, engineSetup{filters: []config.LuaFilter{filter(t, "f", src)}, cfg: config.LuaConfig{MaxMemory: config.MinLuaMaxMemory}})
	x := exchangeFor()
	for i := range 10000 {
		x.Header["X-H"+strconv.Itoa(i)] = []string{"v"}
	}
	_, err := e.RunFilters(context.Background(), &Request{HTTP: x})
	var se *ScriptError
	if !errors.As(err, &se) || !se.Memory || !strings.Contains(se.Msg, "a result of") {
		t.Fatalf("want a memory stop in get_all_http_request_headers, got %v\n%s", err, logs.String())
	}
}

// TestGluaHTTPResponseHeadersCharged: a response's headers become a Lua
// table entry each (~300 bytes in gopher-lua) but were charged 48 bytes
// plus their text: 256 KiB of short headers built ~10 MB under a 4 MiB
// budget.
func TestGluaHTTPResponseHeadersCharged(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		for i := range 20000 {
			w.Header()["X"+strconv.Itoa(i)] = []string{"v"}
		}
	}))
	t.Cleanup(srv.Close)
	cfg := config.LuaConfig{MaxMemory: 4 << 20}
	cfg.HTTPClient = config.LuaHTTPClient{AllowedHosts: []string{"127.0.0.1"}, Timeout: 5 * time.Second, MaxResponseBody: 1 << 20}
	_, err, logs := runOne(t, `function nauthilus_call_filter(request)
  local resp, err = require("glua_http").get("`+srv.URL+`/")
  assert(resp, err)
  `+acceptReturn+`
end`, engineSetup{cfg: cfg})
	var se *ScriptError
	if !errors.As(err, &se) || !se.Memory || !strings.Contains(se.Msg, "a result of") {
		t.Fatalf("want a memory stop in glua_http.get, got %v\n%s", err, logs.String())
	}
}
