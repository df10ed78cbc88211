package lua

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	glua "github.com/yuin/gopher-lua"
)

func evalLua(t *testing.T, L *glua.LState, src string) glua.LValue {
	t.Helper()
	if err := L.DoString("return " + src); err != nil {
		t.Fatal(err)
	}
	v := L.Get(-1)
	L.Pop(1)
	return v
}

func TestHostValueConversionFollowsSpec23(t *testing.T) {
	L := glua.NewState()
	defer L.Close()
	for _, tc := range []struct {
		src  string
		want any
	}{
		{"nil", nil},
		{"true", true},
		{"42", 42.0},
		{"'x'", "x"},
		{"{}", []any{}},
		{"{1, 'a', true}", []any{1.0, "a", true}},
		{"{a = 1, b = {c = 'd'}}", map[any]any{"a": 1.0, "b": map[any]any{"c": "d"}}},
		{"{[2] = 'b'}", map[any]any{2.0: "b"}},
		{"{1, 2, x = 3}", map[any]any{1.0: 1.0, 2.0: 2.0, "x": 3.0}},
		{"{[true] = 1}", map[any]any{true: 1.0}},
	} {
		got := luaToHost(evalLua(t, L, tc.src))
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s: %s", tc.src, diff)
		}
	}
	fn := luaToHost(evalLua(t, L, "print"))
	if s, ok := fn.(string); !ok || !strings.HasPrefix(s, "function: ") {
		t.Errorf("function became %#v", fn)
	}
}

func TestHostValueRoundTripMakesNewTables(t *testing.T) {
	L := glua.NewState()
	defer L.Close()
	stored := luaToHost(evalLua(t, L, "{a = {1, 2}, [5] = 'five', list = {}}"))
	first := hostToLua(L, stored).(*glua.LTable)
	first.RawGetString("a").(*glua.LTable).Append(glua.LNumber(3))
	second := hostToLua(L, stored).(*glua.LTable)
	if n := second.RawGetString("a").(*glua.LTable).Len(); n != 2 {
		t.Errorf("changing a returned table changed the stored value: len %d", n)
	}
	if second.RawGetInt(5) != glua.LString("five") {
		t.Errorf("numeric key lost: %v", second.RawGetInt(5))
	}
	if _, ok := second.RawGetString("list").(*glua.LTable); !ok {
		t.Error("empty table did not round-trip")
	}
}

func TestHostValueRefusesCyclesDepthAndSize(t *testing.T) {
	L := glua.NewState()
	defer L.Close()
	cycle := evalLua(t, L, "(function() local t = {} t.me = t return t end)()")
	if _, _, err := hostValueOf(cycle, maxHostValue); !errors.Is(err, errHostCycle) {
		t.Errorf("cycle: %v", err)
	}
	deep := evalLua(t, L, "(function() local t = {} for i = 1, 200 do t = {t} end return t end)()")
	if _, _, err := hostValueOf(deep, maxHostValue); !errors.Is(err, errHostDepth) {
		t.Errorf("deep: %v", err)
	}
	// 30 levels of a table referring twice to the one below: 2^30 copies.
	shared := evalLua(t, L, "(function() local t = {'x'} for i = 1, 30 do t = {t, t} end return t end)()")
	if _, _, err := hostValueOf(shared, 1<<20); !errors.Is(err, errHostTooLarge) {
		t.Errorf("exponential sharing: %v", err)
	}
	// A shared (not cyclic) subtable is fine.
	dag := evalLua(t, L, "(function() local s = {1} return {a = s, b = s} end)()")
	if _, _, err := hostValueOf(dag, maxHostValue); err != nil {
		t.Errorf("shared subtable: %v", err)
	}
	// luaToHost, which must not fail, stores the cycle's end as text ...
	v := luaToHost(cycle)
	for range maxHostDepth {
		v = v.(map[any]any)["me"]
	}
	if _, ok := v.(string); !ok {
		t.Errorf("cycle at depth %d = %T, want text", maxHostDepth, v)
	}
	// ... but still refuses an exponential expansion.
	defer func() {
		if _, ok := recover().(*glua.ApiError); !ok {
			t.Error("luaToHost of 2^30 copies did not raise a Lua error")
		}
	}()
	luaToHost(shared)
}

func TestHostToLuaConvertsReplyTypes(t *testing.T) {
	L := glua.NewState()
	defer L.Close()
	// A value of another state is never handed over, only its text.
	if got := hostToLua(L, L.NewTable()); got.Type() != glua.LTString {
		t.Errorf("a Lua value came back as %v", got.Type())
	}
	tbl := hostToLua(L, []any{int64(7), "s", nil, []byte("b"), errors.New("e"), []int64{1, 2}, map[string]string{"k": "v"}}).(*glua.LTable)
	if tbl.Len() != 7 || tbl.RawGetInt(1) != glua.LNumber(7) || tbl.RawGetInt(3) != glua.LFalse ||
		tbl.RawGetInt(4) != glua.LString("b") || tbl.RawGetInt(5) != glua.LString("e") {
		t.Errorf("got %v", tbl)
	}
	if _, size, _ := hostValueOf(evalLua(t, L, "{a = 'xyz'}"), 1000); size != 1+32+3+32+32 || hostSize(luaToHost(evalLua(t, L, "{a = 'xyz'}"))) != size {
		t.Errorf("hostSize")
	}
}
