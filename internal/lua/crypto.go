package lua

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"hash/crc32"
	"strings"

	glua "github.com/yuin/gopher-lua"
)

// glua_crypto (tengattack/gluacrypto's API, as its README documents it) and
// gopher-lua-libs' crypto. Both are pure libraries: found only through
// require. Hashes return lower-case hex, or the raw digest when raw is true.

func init() {
	registerModule(module{
		Name: "glua_crypto", Filter: true, Password: true, NotGlobal: true,
		Functions: map[string]runFunc{
			"md5":           digestFunc(md5.New),
			"sha1":          digestFunc(sha1.New),
			"sha256":        digestFunc(sha256.New),
			"sha512":        digestFunc(sha512.New),
			"crc32":         digestFunc(func() hash.Hash { return crc32.NewIEEE() }),
			"hmac":          hmacFunc,
			"base64_encode": base64Encode(base64.StdEncoding),
			"base64_decode": base64Decode(base64.StdEncoding),
			"encrypt":       unsupported("glua_crypto", "encrypt"),
			"decrypt":       unsupported("glua_crypto", "decrypt"),
		},
		Setup: func(_ *vm, t *glua.LTable) { t.RawSetString("RAW_DATA", glua.LNumber(1)) },
	})
	registerModule(module{
		Name: "crypto", Filter: true, Password: true, NotGlobal: true,
		Functions: map[string]runFunc{
			"md5":    digestFunc(md5.New),
			"sha256": digestFunc(sha256.New),
		},
	})
}

var hashByName = map[string]func() hash.Hash{
	"md5": md5.New, "sha1": sha1.New, "sha256": sha256.New, "sha512": sha512.New,
	"crc32": func() hash.Hash { return crc32.NewIEEE() },
}

// digestFunc is f(input [, raw]).
func digestFunc(newHash func() hash.Hash) runFunc {
	return func(_ *scriptRun, L *glua.LState) int {
		h := newHash()
		h.Write([]byte(L.CheckString(1)))
		L.Push(digestValue(h, L.OptBool(2, false)))
		return 1
	}
}

func digestValue(h hash.Hash, raw bool) glua.LValue {
	sum := h.Sum(nil)
	if raw {
		return glua.LString(sum)
	}
	return glua.LString(hex.EncodeToString(sum))
}

// hmacFunc is hmac(dtype, input, key [, raw]) -> digest, or nil and an
// error for an unknown dtype.
func hmacFunc(_ *scriptRun, L *glua.LState) int {
	name, input, key := strings.ToLower(L.CheckString(1)), L.CheckString(2), L.CheckString(3)
	newHash, ok := hashByName[name]
	if !ok || name == "crc32" {
		L.Push(glua.LNil)
		L.Push(glua.LString("unsupported hmac type: " + truncateText(name, 32)))
		return 2
	}
	m := hmac.New(newHash, []byte(key))
	m.Write([]byte(input))
	L.Push(digestValue(m, L.OptBool(4, false)))
	return 1
}

func base64Encode(enc *base64.Encoding) runFunc {
	return func(r *scriptRun, L *glua.LState) int {
		s := L.CheckString(1)
		r.vm().charge(L, int64(enc.EncodedLen(len(s))))
		L.Push(glua.LString(enc.EncodeToString([]byte(s))))
		return 1
	}
}

func base64Decode(enc *base64.Encoding) runFunc {
	return func(r *scriptRun, L *glua.LState) int {
		s := L.CheckString(1)
		r.vm().charge(L, int64(enc.DecodedLen(len(s))))
		out, err := enc.DecodeString(s)
		if err != nil {
			L.Push(glua.LNil)
			L.Push(glua.LString(err.Error()))
			return 2
		}
		L.Push(glua.LString(out))
		return 1
	}
}

// truncateText cuts s for an error message and hides control characters.
func truncateText(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.Map(func(c rune) rune {
		if c < 0x20 || c == 0x7f {
			return '?'
		}
		return c
	}, s)
}
