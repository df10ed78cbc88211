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
	"decode": func(_ *scriptRun, L *glua.LState) int {
		var v any
		if err := json.Unmarshal([]byte(L.CheckString(1)), &v); err != nil {
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
