package lua

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	glua "github.com/yuin/gopher-lua"
)

// buildLuaValue makes a Lua value from fuzz bytes: nested tables with
// string, number and boolean keys, shared subtables and cycles.
func buildLuaValue(L *glua.LState, data []byte) glua.LValue {
	var tables []*glua.LTable
	pos := 0
	next := func() byte {
		if pos >= len(data) {
			return 0
		}
		pos++
		return data[pos-1]
	}
	var build func(depth int) glua.LValue
	build = func(depth int) glua.LValue {
		switch b := next(); b % 7 {
		case 0:
			return glua.LNumber(float64(next()) / 4)
		case 1:
			return glua.LString(string(data[pos:min(pos+int(next()%8), len(data))]))
		case 2:
			return glua.LBool(next()%2 == 0)
		case 3, 4:
			if depth > 40 {
				return glua.LString("leaf")
			}
			t := L.CreateTable(0, 0)
			tables = append(tables, t)
			for n := int(next() % 5); n > 0; n-- {
				var key glua.LValue
				switch next() % 3 {
				case 0:
					key = glua.LNumber(float64(next()%6 + 1))
				case 1:
					key = glua.LString(string(rune('a' + next()%6)))
				default:
					key = glua.LBool(next()%2 == 0)
				}
				t.RawSet(key, build(depth+1))
			}
			return t
		case 5:
			if len(tables) > 0 { // shared or cyclic reference
				return tables[int(next())%len(tables)]
			}
			return glua.LNil
		default:
			return glua.LNil
		}
	}
	return build(0)
}

// FuzzHostValue: any value converts within its bound or fails with an
// error; what converts round-trips through hostToLua unchanged.
func FuzzHostValue(f *testing.F) {
	for _, seed := range []string{"", "\x03\x02\x01a\x00\x05", "\x03\x04\x00\x03\x04\x05\x00", "\x04\x03\x01\x01\x03\x02\x05\x00"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		L := glua.NewState()
		defer L.Close()
		v := buildLuaValue(L, data)
		stored, size, err := hostValueOf(v, 1<<20)
		if err != nil {
			return
		}
		if got := hostSize(stored); got != size {
			t.Fatalf("hostSize %d, counted %d", got, size)
		}
		again, _, err := hostValueOf(hostToLua(L, stored), 1<<20)
		if err != nil {
			t.Fatalf("a converted value does not convert again: %v", err)
		}
		if diff := cmp.Diff(stored, again); diff != "" {
			t.Fatalf("round trip changed the value:\n%s", diff)
		}
		func() { // luaToHost never hangs; over its bound it raises a Lua error
			defer func() {
				if p := recover(); p != nil {
					if _, ok := p.(*glua.ApiError); !ok {
						t.Fatalf("luaToHost panicked: %v", p)
					}
				}
			}()
			_ = luaToHost(v)
		}()
	})
}
