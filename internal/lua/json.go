package lua

import (
	"bytes"
	"encoding/json"
	"math"

	glua "github.com/yuin/gopher-lua"
)

// jsonFunctions is nauthilus_json (also loadable as "json", the name of
// gopher-lua-libs' module that Nauthilus preloads). encode writes map keys
// sorted so output is stable; an empty table encodes as {}. decode turns
// arrays into 1-based tables and null into nil. Both return (value, err).
var jsonFunctions = map[string]runFunc{
	"encode": func(_ *scriptRun, L *glua.LState) int {
		v, err := toGo(L.Get(1), 0)
		if err == nil {
			if f, ok := v.(float64); ok && (math.IsInf(f, 0) || math.IsNaN(f)) {
				err = errNotFinite
			}
		}
		var out []byte
		if err == nil {
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			if err = enc.Encode(v); err == nil {
				out = bytes.TrimRight(buf.Bytes(), "\n")
			}
		}
		if err != nil {
			L.Push(glua.LNil)
			L.Push(glua.LString("json encode: " + err.Error()))
			return 2
		}
		L.Push(glua.LString(out))
		L.Push(glua.LNil)
		return 2
	},
	"decode": func(r *scriptRun, L *glua.LState) int {
		src := L.CheckString(1)
		// Decoding is one native call the budget cannot watch, and a value
		// costs far more decoded than as text ("0," is 2 bytes, then a Go
		// interface and a Lua table slot): charge first.
		r.state.charge(L, jsonDecodeCost(src))
		var v any
		if err := json.Unmarshal([]byte(src), &v); err != nil {
			L.Push(glua.LNil)
			L.Push(glua.LString("json decode: " + err.Error()))
			return 2
		}
		L.Push(toLua(L, v))
		L.Push(glua.LNil)
		return 2
	},
}

type jsonError string

func (e jsonError) Error() string { return string(e) }

const errNotFinite = jsonError("numbers must be finite")

// decodedValueCost is what one JSON value costs while decoding it into Lua:
// Go's interface and slice or map slot, then the Lua value and table slot.
const decodedValueCost = 96

// jsonDecodeCost bounds what decoding src holds at its peak: the text
// twice (Go's copy and the strings made from it) and decodedValueCost per
// value, counted from the separators that start one.
func jsonDecodeCost(src string) int64 {
	values := int64(1)
	for i := 0; i < len(src); i++ {
		switch src[i] {
		case ',', ':', '[', '{':
			values++
		}
	}
	return mulSat(values, decodedValueCost) + 2*int64(len(src))
}
