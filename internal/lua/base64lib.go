package lua

import (
	"encoding/base64"

	glua "github.com/yuin/gopher-lua"
)

// base64 (gopher-lua-libs): base64.StdEncoding, RawStdEncoding, URLEncoding
// and RawURLEncoding, each with :encode_to_string(s) and
// :decode_string(s) -> (s, err). The encodings are userdata whose methods
// cannot be replaced (a pooled state serves many requests). The stream
// encoders (new_encoder, new_decoder) are not supported.

func init() {
	registerModule(module{
		Name: "base64", Filter: true, Password: true, NotGlobal: true,
		Functions: map[string]runFunc{
			"new_encoder": unsupported("base64", "new_encoder"),
			"new_decoder": unsupported("base64", "new_decoder"),
		},
		Setup: func(v *vm, t *glua.LTable) {
			for name, enc := range map[string]*base64.Encoding{
				"StdEncoding": base64.StdEncoding, "RawStdEncoding": base64.RawStdEncoding,
				"URLEncoding": base64.URLEncoding, "RawURLEncoding": base64.RawURLEncoding,
			} {
				t.RawSetString(name, v.base64Encoding(enc))
			}
		},
	})
}

func (v *vm) base64Encoding(enc *base64.Encoding) *glua.LUserData {
	methods := v.L.CreateTable(0, 2)
	for name, f := range map[string]runFunc{"encode_to_string": base64Encode(enc), "decode_string": base64Decode(enc)} {
		methods.RawSetString(name, v.L.NewFunction(func(L *glua.LState) int {
			if v.run == nil {
				L.RaiseError("base64 %s called outside a request", name)
			}
			if _, ok := L.Get(1).(*glua.LUserData); !ok {
				L.RaiseError("base64: call %s with ':' (encoding:%s(s))", name, name)
			}
			L.Remove(1) // self
			return f(v.run, L)
		}))
	}
	meta := v.L.CreateTable(0, 3)
	meta.RawSetString("__index", methods)
	meta.RawSetString("__metatable", glua.LFalse)
	meta.RawSetString("__newindex", v.L.NewFunction(func(L *glua.LState) int {
		L.RaiseError("base64 encodings are read-only")
		return 0
	}))
	ud := v.L.NewUserData()
	ud.Value = enc
	ud.Metatable = meta
	return ud
}
