package lua

import (
	"strings"
	"unicode/utf8"

	glua "github.com/yuin/gopher-lua"
)

// strings (gopher-lua-libs): thin ports of Go's strings functions that
// Nauthilus scripts call. Results that grow with the input are charged to
// the run's memory budget before they are built. The Reader/Builder
// classes (new_reader, new_builder) are not supported.

// luaTableSlotCost is what one list entry of a result table is charged
// (slot, boxed string header), on top of the string bytes.
const luaTableSlotCost = 48

func init() {
	registerModule(module{
		Name: "strings", Filter: true, Password: true, NotGlobal: true,
		Functions: map[string]runFunc{
			"split":       stringsSplit,
			"fields":      stringsFields,
			"join":        stringsJoin,
			"has_prefix":  stringsPredicate(strings.HasPrefix),
			"has_suffix":  stringsPredicate(strings.HasSuffix),
			"contains":    stringsPredicate(strings.Contains),
			"trim":        stringsTransform(strings.Trim),
			"trim_left":   stringsTransform(strings.TrimLeft),
			"trim_right":  stringsTransform(strings.TrimRight),
			"trim_prefix": stringsTransform(strings.TrimPrefix),
			"trim_suffix": stringsTransform(strings.TrimSuffix),
			"trim_space": func(_ *scriptRun, L *glua.LState) int {
				L.Push(glua.LString(strings.TrimSpace(L.CheckString(1))))
				return 1
			},
			"new_reader":  unsupported("strings", "new_reader"),
			"new_builder": unsupported("strings", "new_builder"),
		},
	})
}

func stringsPredicate(f func(s, x string) bool) runFunc {
	return func(_ *scriptRun, L *glua.LState) int {
		L.Push(glua.LBool(f(L.CheckString(1), L.CheckString(2))))
		return 1
	}
}

// stringsTransform results are never longer than their input.
func stringsTransform(f func(s, x string) string) runFunc {
	return func(_ *scriptRun, L *glua.LState) int {
		L.Push(glua.LString(f(L.CheckString(1), L.CheckString(2))))
		return 1
	}
}

func stringsSplit(r *scriptRun, L *glua.LState) int {
	s, sep := L.CheckString(1), L.CheckString(2)
	n := int64(strings.Count(s, sep)) + 1
	if sep == "" {
		n = int64(utf8.RuneCountInString(s))
	}
	r.vm().chargeRetained(L, mulSat(n, luaTableSlotCost)+int64(len(s)))
	return pushStringList(L, strings.Split(s, sep))
}

func stringsFields(r *scriptRun, L *glua.LState) int {
	s := L.CheckString(1)
	// At most one field per two bytes ("a b c").
	r.vm().chargeRetained(L, mulSat(int64(len(s)/2+1), luaTableSlotCost)+int64(len(s)))
	return pushStringList(L, strings.Fields(s))
}

func pushStringList(L *glua.LState, parts []string) int {
	t := L.CreateTable(len(parts), 0)
	for i, p := range parts {
		t.RawSetInt(i+1, glua.LString(p))
	}
	L.Push(t)
	return 1
}

// stringsJoin is join(list, sep): the list's strings and numbers.
func stringsJoin(r *scriptRun, L *glua.LState) int {
	t, sep := L.CheckTable(1), L.OptString(2, "")
	n := t.Len()
	parts := make([]string, 0, n)
	var size int64
	for i := 1; i <= n; i++ {
		v := t.RawGetInt(i)
		switch v.(type) {
		case glua.LString, glua.LNumber:
		default:
			L.ArgError(1, "join: element "+glua.LNumber(i).String()+" is a "+v.Type().String()+", not a string")
		}
		parts = append(parts, v.String())
		size = addSat(size, int64(len(parts[i-1])+len(sep)))
	}
	r.vm().charge(L, size)
	L.Push(glua.LString(strings.Join(parts, sep)))
	return 1
}
