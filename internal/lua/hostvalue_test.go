package lua

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	glua "github.com/yuin/gopher-lua"
)

func TestLuaToHostFollowsSpec(t *testing.T) {
	L := glua.NewState()
	defer L.Close()
	if err := L.DoString(`
		list = {"a", 2, true}
		map = {x = 1, [2] = "two"}
		nested = {inner = {1, 2}, empty = {}}
		fn = function() end
		cyclic = {}; cyclic.self = cyclic
	`); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		want any
	}{
		{"list", []any{"a", 2.0, true}},
		{"map", map[any]any{"x": 1.0, 2.0: "two"}},
		{"nested", map[any]any{"inner": []any{1.0, 2.0}, "empty": []any{}}},
	}
	for _, c := range cases {
		if diff := cmp.Diff(c.want, luaToHost(L.GetGlobal(c.name))); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, diff)
		}
	}
	if s, ok := luaToHost(L.GetGlobal("fn")).(string); !ok || len(s) < 10 || s[:9] != "function:" {
		t.Errorf("function became %#v, want its tostring text", luaToHost(L.GetGlobal("fn")))
	}
	// A cycle ends at maxHostDepth as text instead of recursing forever.
	v := luaToHost(L.GetGlobal("cyclic"))
	for i := 0; i < maxHostDepth; i++ {
		v = v.(map[any]any)["self"]
	}
	if _, ok := v.(string); !ok {
		t.Errorf("cycle at depth %d = %T, want text", maxHostDepth, v)
	}
}

func TestHostToLuaMakesNewTables(t *testing.T) {
	L := glua.NewState()
	defer L.Close()
	stored := map[any]any{"k": []any{"a", int64(7)}, math.NaN(): "dropped", 1.0: true}
	a, b := hostToLua(L, stored), hostToLua(L, stored)
	if a == b {
		t.Fatal("two conversions returned the same table")
	}
	ta := a.(*glua.LTable)
	inner := ta.RawGetString("k").(*glua.LTable)
	if inner.RawGetInt(1) != glua.LString("a") || inner.RawGetInt(2) != glua.LNumber(7) || ta.RawGetInt(1) != glua.LTrue {
		t.Errorf("converted table wrong: %v %v", inner.RawGetInt(1), inner.RawGetInt(2))
	}
	inner.RawSetInt(1, glua.LString("changed"))
	if got := luaToHost(b.(*glua.LTable).RawGetString("k")).([]any)[0]; got != "a" {
		t.Errorf("changing one copy changed another: %v", got)
	}
	if got := hostToLua(L, struct{ X int }{3}); got != glua.LString("{3}") {
		t.Errorf("unknown type = %v, want its fmt text", got)
	}
}
