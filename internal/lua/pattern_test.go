package lua

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	glua "github.com/yuin/gopher-lua"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/lua/luapattern"
)

// patternCases run on stock gopher-lua and on backline's gsub and gmatch;
// the results must be the same. Where backline follows Lua 5.1 and
// gopher-lua does not (a negative gsub limit, "^" in gmatch), the case is in lua51Cases instead.
var patternCases = []string{
	`string.gsub("hello world", "o", "0")`,
	`string.gsub("hello world", "o", "0", 1)`,
	`string.gsub("hello world", "o", "0", 0)`,
	`string.gsub("hello world", "o", "0", 1.5)`,
	`string.gsub("hello world", "(o)", "[%1]")`,
	`string.gsub("hello world", "l+", "%0%0")`,
	`string.gsub("hello world", "", "-")`,
	`string.gsub("abc", "x*", "-")`,
	`string.gsub("hello world", "^h", "H")`,
	`string.gsub("hello hello", "^hello", "bye")`,
	`string.gsub("hello", "(h)(e)", "%2%1")`,
	`string.gsub("hello", "()ll()", "%1-%2")`,
	`string.gsub("100%", "%%", "%%%%")`,
	`string.gsub("abc", "", "")`,
	`string.gsub("", "", "x")`,
	`string.gsub("", "a", "x")`,
	`string.gsub("a.b.c", "%.", "/")`,
	`string.gsub("$name is $age", "%$(%w+)", {name = "bob", age = 42})`,
	`string.gsub("$name is $x", "%$(%w+)", {name = "bob"})`,
	`string.gsub("hello world", "%w+", function(w) return w:upper() end)`,
	`string.gsub("hello world", "(%w)(%w*)", function(a, b) return a:upper() .. b end)`,
	`string.gsub("hello world", "%w+", function(w) if w == "hello" then return false end return "X" end)`,
	`string.gsub("abc", "()", function(p) return p end)`,
	`string.gsub(string.rep("ab", 600), "b", "c")`,
	`string.gsub(string.rep("ab", 600), "", ".", 700)`,
	`string.gsub("key = value", "(%w+)%s*=%s*(%w+)", "%2 = %1")`,
	`(function() local t = {} for k, v in string.gmatch("a=1, b=2, c=3", "(%w+)=(%w+)") do t[#t+1] = k .. v end return table.concat(t, ",") end)()`,
	`(function() local t = {} for w in string.gmatch("one two  three", "%a+") do t[#t+1] = w end return table.concat(t, ",") end)()`,
	`(function() local t = {} for w in string.gmatch("abc", "") do t[#t+1] = "[" .. w .. "]" end return table.concat(t, ",") end)()`,
	`(function() local t = {} for p in string.gmatch("abc", "()") do t[#t+1] = p end return table.concat(t, ",") end)()`,
	`(function() local n = 0 for w in string.gmatch(string.rep("x ", 700), "%a") do n = n + 1 end return n end)()`,
	`pcall(string.gsub, "abc", "(", "x")`,
	`pcall(string.gsub, "abc", "b", "%2")`,
	`pcall(string.gmatch, "abc", "[a")`,
}

func evalStock(t *testing.T, expr string) string {
	t.Helper()
	L := glua.NewState()
	defer L.Close()
	if err := L.DoString("return " + expr); err != nil {
		return "error: " + err.Error()
	}
	return renderResults(L)
}

func renderResults(L *glua.LState) string {
	parts := make([]string, L.GetTop())
	for i := range parts {
		parts[i] = L.Get(i + 1).String()
		if _, ok := L.Get(i + 1).(glua.LString); ok {
			parts[i] = fmt.Sprintf("%q", parts[i])
		}
	}
	return strings.Join(parts, ", ")
}

func TestGsubAndGmatchMatchGopherLua(t *testing.T) {
	e, _ := newEngine(t, engineSetup{})
	for _, expr := range patternCases {
		want := evalStock(t, expr)
		got := evalInEngine(t, e, expr)
		if strings.HasPrefix(want, "false") && strings.HasPrefix(got, "false") {
			continue // both refuse the pattern; texts may differ in position
		}
		if got != want {
			t.Errorf("%s\n got  %s\n want %s", expr, got, want)
		}
	}
}

// evalInEngine evaluates expr inside a filter run and renders its results.
func evalInEngine(t *testing.T, e *Engine, expr string) string {
	t.Helper()
	return evalInEngineWith(t, e, expr, nil)
}

func evalInEngineWith(t *testing.T, e *Engine, expr string, prepare func(*glua.LState)) string {
	t.Helper()
	v, err := e.pool.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer e.pool.release(v, true)
	r := newRun(context.Background(), e, &script{name: "eval"}, kindFilter, &Request{})
	v.bind(r)
	defer v.unbind()
	L := v.L
	if prepare != nil {
		prepare(L)
	}
	fn, err := L.LoadString("return " + expr)
	if err != nil {
		t.Fatal(err)
	}
	L.Push(fn)
	if err := L.PCall(0, glua.MultRet, nil); err != nil {
		return "error: " + err.Error()
	}
	return renderResults(L)
}

// FuzzGsubMatchesGopherLua: backline's gsub and gmatch give what stock
// gopher-lua gives, for any short subject, pattern and replacement, except
// where gopher-lua departs from Lua 5.1 (README.md): "^" in gmatch, "%f",
// a back-reference to a position capture, "-" after a range or class in a
// set, and malformed patterns refused up front.
func FuzzGsubMatchesGopherLua(f *testing.F) {
	for _, c := range [][3]string{
		{"hello world", "o", "0"}, {"abc", "", "-"}, {"abc", "x*", "%0%0"}, {"hello", "^h", "H"},
		{"a.b", "%.", "%%"}, {"key=val", "(%w+)=(%w+)", "%2=%1"}, {"abc", "()", "%1"}, {"abc", "(", "x"},
	} {
		f.Add(c[0], c[1], c[2])
	}
	e, err := NewEngine(Options{Config: config.Lua{Config: config.LuaConfig{VMPoolSize: 1, ScriptTimeout: 10 * time.Second}}})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(e.Close)
	const expr = `(function()
  local ok, r, n = pcall(string.gsub, S, P, R)
  if not ok then return "error" end
  local parts, ok2, it, st = {}, pcall(string.gmatch, S, P)
  if ok2 and P:sub(1, 1) ~= "^" then
    local count = 0
    for a, b in it, st do count = count + 1; parts[#parts+1] = tostring(a) .. "," .. tostring(b); if count > 100 then break end end
  end
  return r .. "|" .. n .. "|" .. table.concat(parts, ";")
end)()`
	f.Fuzz(func(t *testing.T, s, pattern, repl string) {
		if len(s) > 32 || len(pattern) > 16 || len(repl) > 16 {
			t.Skip()
		}
		if gopherLuaDiffers(pattern) {
			return
		}
		set := func(L *glua.LState) {
			L.SetGlobal("S", glua.LString(s))
			L.SetGlobal("P", glua.LString(pattern))
			L.SetGlobal("R", glua.LString(repl))
		}
		L := glua.NewState()
		defer L.Close()
		set(L)
		want := "error"
		if err := L.DoString("return " + expr); err == nil {
			want = renderResults(L)
		}
		got := evalInEngineWith(t, e, expr, set)
		if strings.HasPrefix(got, "error: ") {
			got = "error"
		}
		if got == `"error"` && want != got && refusedByLua51(pattern, repl) {
			return
		}
		if got != want {
			t.Fatalf("gsub/gmatch(%q, %q, %q)\n got  %s\n want %s", s, pattern, repl, got, want)
		}
	})
}

var chainedRange = regexp.MustCompile(`\[.*(%.-|-[^]]-|--)`)

// gopherLuaDiffers: pm has no "%f" (it reads "f"), matches "%n" of a
// position capture as "" (Lua 5.1: never) and misreads "[0-0-0]" and "[0--]".
func gopherLuaDiffers(pattern string) bool {
	return strings.Contains(pattern, "%f") || chainedRange.MatchString(pattern) ||
		strings.Contains(pattern, "()") && regexp.MustCompile(`%[1-9]`).MatchString(pattern)
}

// refusedByLua51: the pattern is malformed (refused whatever the subject).
// A "%x" in the replacement is kept as gopher-lua keeps it, so it is
// compared like everything else.
func refusedByLua51(pattern, _ string) bool {
	_, err := luapattern.Compile(pattern, true)
	return err != nil
}
