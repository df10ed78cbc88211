package lua

import (
	"crypto/rand"
	"fmt"
	"log/slog"
	"math/big"
	"net/netip"
	"strings"
	"time"

	glua "github.com/yuin/gopher-lua"
)

// utilFunctions is a built-in nauthilus_util. Nauthilus ships it as a Lua file
// found through package_path; here it is preloaded, so require finds the
// built-in even if an operator's package_path holds the original file. The
// log functions take either a plain string (as seed 000's example does) or
// Nauthilus' (request, result_table[, err]).
var utilFunctions = map[string]runFunc{
	"log_debug":  logAt(slog.LevelDebug),
	"log_info":   logAt(slog.LevelInfo),
	"log_notice": logAt(slog.LevelInfo),
	"log_warn":   logAt(slog.LevelWarn),
	"log_error":  logAt(slog.LevelError),
	"log": func(r *scriptRun, L *glua.LState) int {
		level := slog.LevelInfo
		switch strings.ToLower(L.OptString(2, "info")) {
		case "debug":
			level = slog.LevelDebug
		case "warn", "warning":
			level = slog.LevelWarn
		case "error":
			level = slog.LevelError
		}
		r.log(level, L.Get(3), L.Get(4))
		return 0
	},
	"print_result": func(r *scriptRun, L *glua.LState) int {
		r.log(slog.LevelInfo, L.Get(2), L.Get(3))
		return 0
	},
	"getenv": func(r *scriptRun, L *glua.LState) int {
		if v, ok := r.engine.lookupEnv(L.CheckString(1)); ok && v != "" {
			L.Push(glua.LString(v))
		} else {
			L.Push(L.Get(2))
		}
		return 1
	},
	"exists_in_table": func(_ *scriptRun, L *glua.LState) int {
		t, want, found := L.CheckTable(1), L.Get(2), false
		t.ForEach(func(_, v glua.LValue) { found = found || L.Equal(v, want) })
		L.Push(glua.LBool(found))
		return 1
	},
	"table_length": func(_ *scriptRun, L *glua.LState) int {
		n := 0
		if t, ok := L.Get(1).(*glua.LTable); ok {
			t.ForEach(func(glua.LValue, glua.LValue) { n++ })
		}
		L.Push(glua.LNumber(n))
		return 1
	},
	"if_error_raise": func(_ *scriptRun, L *glua.LState) int {
		if err := L.Get(1); err != glua.LNil && err != glua.LFalse {
			L.RaiseError("%s", L.ToStringMeta(err).String())
		}
		return 0
	},
	"is_table":  typeIs(glua.LTTable),
	"is_string": typeIs(glua.LTString),
	"is_number": typeIs(glua.LTNumber),
	"toboolean": func(_ *scriptRun, L *glua.LState) int {
		switch v := L.Get(1).(type) {
		case glua.LBool:
			L.Push(v)
		case glua.LNumber:
			L.Push(glua.LBool(v != 0))
		case glua.LString:
			switch strings.ToLower(strings.TrimSpace(string(v))) {
			case "true", "1", "yes", "on", "y":
				L.Push(glua.LTrue)
			default:
				L.Push(glua.LFalse)
			}
		default:
			L.Push(glua.LFalse)
		}
		return 1
	},
	"get_current_timestamp": func(_ *scriptRun, L *glua.LState) int {
		L.Push(glua.LString(time.Now().UTC().Format(time.RFC3339)))
		return 1
	},
	"get_redis_key": func(_ *scriptRun, L *glua.LState) int {
		prefix := ""
		if t, ok := L.Get(1).(*glua.LTable); ok {
			// Through __index: the request table answers redis_prefix
			// from its defaults (request.go), as a Lua
			// request.redis_prefix would.
			if s, ok := L.GetField(t, "redis_prefix").(glua.LString); ok {
				prefix = string(s)
			}
		}
		L.Push(glua.LString(prefix + L.CheckString(2)))
		return 1
	},
	"generate_random_string": func(_ *scriptRun, L *glua.LState) int {
		n := L.OptInt(1, 16)
		if n < 0 || n > 4096 {
			L.ArgError(1, "length must be between 0 and 4096")
		}
		const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
		b := make([]byte, n)
		for i := range b {
			k, _ := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
			b[i] = alphabet[k.Int64()]
		}
		L.Push(glua.LString(b))
		return 1
	},
	"is_routable_ip": func(_ *scriptRun, L *glua.LState) int {
		ip, err := netip.ParseAddr(L.CheckString(1))
		routable := err == nil && ip.IsGlobalUnicast() && !ip.IsPrivate()
		L.Push(glua.LBool(routable))
		return 1
	},

	// Nauthilus 1.0's Lua password backends (its backend.lua) call
	// compare_passwords on nauthilus_util; 1.3 moved it to
	// nauthilus_password. The same function, so such a script runs as
	// shipped, with the same hashes, limits and hash workers.
	"compare_passwords": comparePasswords,
}

func typeIs(t glua.LValueType) runFunc {
	return func(_ *scriptRun, L *glua.LState) int {
		L.Push(glua.LBool(L.Get(1).Type() == t))
		return 1
	}
}

func logAt(level slog.Level) runFunc {
	return func(r *scriptRun, L *glua.LState) int {
		if s, ok := L.Get(1).(glua.LString); ok {
			r.log(level, s, glua.LNil)
			return 0
		}
		r.log(level, L.Get(2), L.Get(3))
		return 0
	}
}

// log writes one script log line. A table result becomes sorted key=value
// attributes; everything passes through redact.
func (r *scriptRun) log(level slog.Level, result, errValue glua.LValue) {
	logger := r.engine.logger
	if !logger.Enabled(r.ctx, level) {
		return
	}
	msg := "Lua script log"
	attrs := []any{"script", r.script.name}
	switch x := result.(type) {
	case glua.LString:
		msg = r.redact(string(x))
	case *glua.LTable:
		fields, _ := tableToMap(x, 0)
		for _, k := range sortedKeys(fields) {
			attrs = append(attrs, k, r.redact(fmt.Sprint(fields[k])))
		}
	case *glua.LNilType:
	default:
		msg = r.redact(result.String())
	}
	if errValue != glua.LNil && errValue != nil {
		attrs = append(attrs, "error", r.redact(errValue.String()))
	}
	if r.req != nil && r.req.Session != "" {
		attrs = append(attrs, "session", r.req.Session)
	}
	logger.Log(r.ctx, level, msg, attrs...)
}
