package lua

import (
	"errors"
	"fmt"
	"math"
	"sort"

	glua "github.com/yuin/gopher-lua"
)

// toGo converts a Lua value for attributes and JSON: strings, numbers
// (float64), booleans, array-like tables ([]any) and other tables
// (map[string]any, non-string keys dropped as Nauthilus does). Functions,
// userdata and threads are refused so a script learns about them at once.
// The result is at most maxConverted bytes: a table that refers to the same
// subtable many times on each of 32 levels would otherwise expand
// exponentially.
func toGo(v glua.LValue, depth int) (any, error) {
	c := converter{left: maxConverted}
	return c.value(v, depth)
}

// tableToMap is toGo for a table that must become a map.
func tableToMap(t *glua.LTable, depth int) (map[string]any, error) {
	c := converter{left: maxConverted}
	return c.table(t, depth)
}

// maxConverted bounds one conversion: string bytes plus 16 per value.
const maxConverted = 16 << 20

var errConvertTooLarge = fmt.Errorf("value too large to convert (more than %d MiB)", maxConverted>>20)

type converter struct{ left int64 }

func (c *converter) spend(n int) error {
	c.left -= int64(n) + 16
	if c.left < 0 {
		return errConvertTooLarge
	}
	return nil
}

func (c *converter) value(v glua.LValue, depth int) (any, error) {
	if depth > 32 {
		return nil, fmt.Errorf("table nested more than 32 levels (a cycle?)")
	}
	if err := c.spend(0); err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case *glua.LNilType:
		return nil, nil
	case glua.LBool:
		return bool(x), nil
	case glua.LNumber:
		return float64(x), nil
	case glua.LString:
		if err := c.spend(len(x)); err != nil {
			return nil, err
		}
		return string(x), nil
	case *glua.LTable:
		if isArray(x) {
			out := make([]any, 0, x.Len())
			for i := 1; i <= x.Len(); i++ {
				e, err := c.value(x.RawGetInt(i), depth+1)
				if err != nil {
					return nil, err
				}
				out = append(out, e)
			}
			return out, nil
		}
		return c.table(x, depth)
	default:
		return nil, fmt.Errorf("unsupported value of type %s", v.Type())
	}
}

func (c *converter) table(t *glua.LTable, depth int) (map[string]any, error) {
	out := map[string]any{}
	for k, v := t.Next(glua.LNil); k != glua.LNil; k, v = t.Next(k) {
		ks, ok := k.(glua.LString)
		if !ok {
			continue
		}
		if err := c.spend(len(ks)); err != nil {
			return nil, err
		}
		gv, err := c.value(v, depth+1)
		if err != nil {
			if errors.Is(err, errConvertTooLarge) {
				return nil, err
			}
			return nil, fmt.Errorf("key %q: %w", string(ks), err)
		}
		out[string(ks)] = gv
	}
	return out, nil
}

// isArray reports whether t is a non-empty sequence 1..n with no other keys.
func isArray(t *glua.LTable) bool {
	n := t.Len()
	if n == 0 {
		return false
	}
	count := 0
	t.ForEach(func(glua.LValue, glua.LValue) { count++ })
	return count == n
}

// hasOnlyIntegerKeys reports whether t has keys and all of them are numbers,
// which is what an "array-like" attributes table looks like.
func hasOnlyIntegerKeys(t *glua.LTable) bool {
	keys, numeric := 0, 0
	t.ForEach(func(k, _ glua.LValue) {
		keys++
		if _, ok := k.(glua.LNumber); ok {
			numeric++
		}
	})
	return keys > 0 && keys == numeric
}

// toLua converts a Go value made by toGo (or decoded JSON) back to Lua.
func toLua(L *glua.LState, v any) glua.LValue {
	switch x := v.(type) {
	case nil:
		return glua.LNil
	case bool:
		return glua.LBool(x)
	case float64:
		return glua.LNumber(x)
	case int:
		return glua.LNumber(x)
	case int64:
		return glua.LNumber(x)
	case string:
		return glua.LString(x)
	case []string:
		t := L.CreateTable(len(x), 0)
		for _, e := range x {
			t.Append(glua.LString(e))
		}
		return t
	case []any:
		t := L.CreateTable(len(x), 0)
		for _, e := range x {
			t.Append(toLua(L, e))
		}
		return t
	case map[string]any:
		t := L.CreateTable(0, len(x))
		for _, k := range sortedKeys(x) {
			t.RawSetString(k, toLua(L, x[k]))
		}
		return t
	default:
		return glua.LString(fmt.Sprint(x))
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// luaInt reads an integral Lua number.
func luaInt(v glua.LValue) (int, bool) {
	n, ok := v.(glua.LNumber)
	if !ok {
		return 0, false
	}
	f := float64(n)
	if f != math.Trunc(f) || math.IsInf(f, 0) || f > math.MaxInt32 || f < math.MinInt32 {
		return 0, false
	}
	return int(f), true
}

// stringsOf collects the values of a list table, converting numbers to
// strings as Lua's tostring would.
func stringsOf(t *glua.LTable) []string {
	var out []string
	t.ForEach(func(_, v glua.LValue) {
		switch x := v.(type) {
		case glua.LString:
			out = append(out, string(x))
		case glua.LNumber:
			out = append(out, x.String())
		}
	})
	return out
}
