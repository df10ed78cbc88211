package lua

import (
	"fmt"
	"sort"

	glua "github.com/yuin/gopher-lua"
)

// Values modules keep outside a run (nauthilus_context, nauthilus_cache,
// Redis script arguments) are converted as spec nauthilus-lua-modules §2.3
// says, so what a script stores is a copy it can no longer change.
//
//	Lua                         host
//	nil, boolean, string        nil, bool, string
//	number                      float64
//	table with keys 1..n        []any (deep copy; {} is an empty list)
//	other table                 map[any]any (keys converted the same way)
//	function, userdata, thread  their tostring text ("function: 0x...")
//
// Unlike toGo (attributes, JSON) nothing is refused. A table nested deeper
// than maxHostDepth (a cycle) is stored as its tostring text there.
const maxHostDepth = 32

// luaToHost converts a Lua value to a host value (a deep copy).
func luaToHost(v glua.LValue) any { return luaToHostDepth(v, 0) }

func luaToHostDepth(v glua.LValue, depth int) any {
	switch x := v.(type) {
	case *glua.LNilType:
		return nil
	case glua.LBool:
		return bool(x)
	case glua.LNumber:
		return float64(x)
	case glua.LString:
		return string(x)
	case *glua.LTable:
		if depth >= maxHostDepth {
			return x.String()
		}
		if list, ok := hostList(x, depth); ok {
			return list
		}
		m := map[any]any{}
		x.ForEach(func(k, val glua.LValue) {
			m[luaToHostDepth(k, depth+1)] = luaToHostDepth(val, depth+1)
		})
		return m
	case nil:
		return nil
	default:
		return v.String()
	}
}

// hostList converts t when its keys, in traversal order, are exactly 1..n.
func hostList(t *glua.LTable, depth int) ([]any, bool) {
	out := []any{}
	next := 1.0
	isList := true
	t.ForEach(func(k, val glua.LValue) {
		if !isList {
			return
		}
		if n, ok := k.(glua.LNumber); !ok || float64(n) != next {
			isList = false
			return
		}
		next++
		out = append(out, luaToHostDepth(val, depth+1))
	})
	return out, isList
}

// hostToLua converts a host value to a new Lua value: lists become
// sequences, maps hash tables (each call makes new tables), integers
// numbers, anything else its fmt text.
func hostToLua(L *glua.LState, v any) glua.LValue {
	switch x := v.(type) {
	case nil:
		return glua.LNil
	case bool:
		return glua.LBool(x)
	case string:
		return glua.LString(x)
	case []byte:
		return glua.LString(x)
	case float64:
		return glua.LNumber(x)
	case float32:
		return glua.LNumber(x)
	case int:
		return glua.LNumber(x)
	case int64:
		return glua.LNumber(x)
	case int32:
		return glua.LNumber(x)
	case uint64:
		return glua.LNumber(x)
	case uint32:
		return glua.LNumber(x)
	case []any:
		t := L.CreateTable(len(x), 0)
		for _, e := range x {
			t.Append(hostToLua(L, e))
		}
		return t
	case []string:
		t := L.CreateTable(len(x), 0)
		for _, e := range x {
			t.Append(glua.LString(e))
		}
		return t
	case map[any]any:
		t := L.CreateTable(0, len(x))
		for _, k := range sortedHostKeys(x) {
			t.RawSet(hostToLua(L, k), hostToLua(L, x[k]))
		}
		return t
	case map[string]any:
		t := L.CreateTable(0, len(x))
		for k, e := range x {
			t.RawSetString(k, hostToLua(L, e))
		}
		return t
	case map[string]string:
		t := L.CreateTable(0, len(x))
		for k, e := range x {
			t.RawSetString(k, glua.LString(e))
		}
		return t
	case glua.LValue:
		return glua.LString(x.String()) // never hand one state's value to another
	default:
		return glua.LString(fmt.Sprint(x))
	}
}

// sortedHostKeys orders map keys so that a table built from them is the
// same every time (nil and NaN keys, which Lua cannot hold, are dropped).
func sortedHostKeys(m map[any]any) []any {
	keys := make([]any, 0, len(m))
	for k := range m {
		if f, isNumber := k.(float64); k == nil || isNumber && f != f {
			continue // nil and NaN cannot be Lua keys
		}
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
	return keys
}
