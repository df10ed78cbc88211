package lua

import (
	"errors"
	"math"
	"sort"
	"strconv"

	"github.com/redis/go-redis/v9"
	glua "github.com/yuin/gopher-lua"
)

// The wrappers with options or several forms: redis_set, redis_mget,
// redis_mset, redis_scan, redis_hset, redis_hmget (§4.1.2).

// redisSet is redis_set(h, key, value [, ttl_seconds | options]). A failed
// NX/XX condition is (nil, nil); with get=true the old value is returned.
func redisSet(r *scriptRun, L *glua.LState) int {
	key := L.CheckString(2)
	value := L.CheckAny(3)
	switch value.(type) {
	case glua.LString, glua.LNumber, glua.LBool:
	default:
		return pushRedis(r, L, nil, errors.New("redis_set: value must be a string, number or boolean, got "+value.Type().String()))
	}
	args := []any{"set", key, redisArg(value)}
	get := false
	switch opt := L.Get(4).(type) {
	case glua.LNumber:
		if opt < 0 {
			return pushRedis(r, L, nil, errors.New("expiration seconds must be >= 0"))
		}
		if opt > 0 {
			args = append(args, expiryArgs(seconds(opt).Milliseconds(), "ex", "px")...)
		}
	case *glua.LTable:
		var extra []any
		extra, get = setOptions(opt)
		args = append(args, extra...)
	}
	conn, err := redisHandle(r, L)
	if err != nil {
		return pushRedis(r, L, nil, err)
	}
	res, err := redisCall(r, conn, func(ctx ctxT) *redis.Cmd { return conn.write.Do(ctx, args...) })
	if errors.Is(err, redis.Nil) {
		return pushRedis(r, L, glua.LNil, nil) // condition not met, or no old value
	}
	if err != nil {
		return pushRedis(r, L, nil, err)
	}
	s, _ := res.Val().(string)
	if !get && s == "" {
		s = "OK"
	}
	return pushRedis(r, L, luaString(r, L, s), nil)
}

// expiryArgs is EX in whole seconds, else PX in milliseconds.
func expiryArgs(ms int64, secName, msName string) []any {
	if ms%1000 == 0 {
		return []any{secName, strconv.FormatInt(ms/1000, 10)}
	}
	return []any{msName, strconv.FormatInt(ms, 10)}
}

// setOptions reads redis_set's options table: booleans nx, xx, get,
// keepttl and positive numbers ex, px, exat, pxat (others ignored). xx
// wins over nx; px over ex and pxat over exat.
func setOptions(t *glua.LTable) (args []any, get bool) {
	flag := func(k string) bool { return t.RawGetString(k) == glua.LTrue }
	num := func(k string) (int64, bool) {
		n, ok := t.RawGetString(k).(glua.LNumber)
		if !ok || !(n > 0) || float64(n) >= math.MaxInt64 {
			return 0, false
		}
		return int64(n), true
	}
	if px, ok := num("px"); ok {
		args = append(args, "px", strconv.FormatInt(px, 10))
	} else if ex, ok := num("ex"); ok {
		args = append(args, "ex", strconv.FormatInt(ex, 10))
	}
	if pxat, ok := num("pxat"); ok {
		args = append(args, "pxat", strconv.FormatInt(pxat, 10))
	} else if exat, ok := num("exat"); ok {
		args = append(args, "exat", strconv.FormatInt(exat, 10))
	}
	if flag("keepttl") {
		args = append(args, "keepttl")
	}
	if flag("xx") {
		args = append(args, "xx")
	} else if flag("nx") {
		args = append(args, "nx")
	}
	if flag("get") {
		args, get = append(args, "get"), true
	}
	return args, get
}

// redisMGet is redis_mget(h, k1, k2, ...) or (h, {k1, ...}): a table keyed
// by key name, missing keys absent.
func redisMGet(r *scriptRun, L *glua.LState) int {
	keys := argStrings(redisArgsFrom(L, 2))
	if len(keys) == 0 {
		return pushRedis(r, L, L.NewTable(), nil)
	}
	return runRedisOp(r, L, redisRead, func(ctx ctxT, c client) *redis.SliceCmd { return c.MGet(ctx, keys...) },
		func(r *scriptRun, L *glua.LState, cmd *redis.SliceCmd) glua.LValue {
			return keyedValues(r, L, keys, cmd.Val())
		})
}

// keyedValues pairs names with values, leaving out nil values.
func keyedValues(r *scriptRun, L *glua.LState, names []string, vals []any) glua.LValue {
	t := L.CreateTable(0, len(names))
	size := 0
	for i, v := range vals {
		if s, ok := v.(string); ok && i < len(names) {
			size += len(s) + len(names[i])
		}
	}
	chargeReply(r, L, size, len(vals))
	for i, v := range vals {
		if s, ok := v.(string); ok && i < len(names) {
			t.RawSetString(names[i], glua.LString(s))
		}
	}
	return t
}

// redisMSet is redis_mset(h, k1, v1, ...) or (h, {k = v, ...}).
func redisMSet(r *scriptRun, L *glua.LState) int {
	pairs, err := pairArgs(L, 2)
	if err != nil {
		return pushRedis(r, L, nil, err)
	}
	if len(pairs) == 0 {
		return pushRedis(r, L, glua.LString("OK"), nil)
	}
	return runRedisOp(r, L, redisWrite, func(ctx ctxT, c client) *redis.StatusCmd { return c.MSet(ctx, pairs...) }, statusReply)
}

// pairArgs reads name/value pairs from position n: variadic (an even
// count) or one table {name = value} (sorted by name, so the command is
// the same every time).
func pairArgs(L *glua.LState, n int) ([]any, error) {
	if t, ok := L.Get(n).(*glua.LTable); ok && L.GetTop() == n {
		var names []string
		vals := map[string]string{}
		t.ForEach(func(k, v glua.LValue) {
			name := redisArg(k)
			names = append(names, name)
			vals[name] = redisArg(v)
		})
		sort.Strings(names)
		out := make([]any, 0, 2*len(names))
		for _, name := range names {
			out = append(out, name, vals[name])
		}
		return out, nil
	}
	args := redisArgsFrom(L, n)
	if len(args)%2 != 0 {
		return nil, errRedisArity
	}
	return args, nil
}

// redisScan is redis_scan(h, cursor [, match="*" [, count=10]]) ->
// {cursor = n, keys = {...}}.
func redisScan(r *scriptRun, L *glua.LState) int {
	cursor := uint64(max(float64(L.CheckNumber(2)), 0))
	match, count := L.OptString(3, "*"), int64(L.OptNumber(4, 10))
	return runRedisOp(r, L, redisRead, func(ctx ctxT, c client) *redis.ScanCmd { return c.Scan(ctx, cursor, match, count) }, scanReply)
}

func scanReply(r *scriptRun, L *glua.LState, cmd *redis.ScanCmd) glua.LValue {
	keys, next := cmd.Val()
	t := L.CreateTable(0, 2)
	t.RawSetString("cursor", glua.LNumber(next))
	t.RawSetString("keys", luaStrings(r, L, keys))
	return t
}

// redisHSet is redis_hset(h, key, field, value [, ...]) or (h, key, {f = v}):
// the number of new fields.
func redisHSet(r *scriptRun, L *glua.LState) int {
	key := L.CheckString(2)
	pairs, err := pairArgs(L, 3)
	if err == nil && len(pairs) == 0 {
		err = errRedisArity
	}
	if err != nil {
		return pushRedis(r, L, nil, err)
	}
	return runRedisOp(r, L, redisWrite, func(ctx ctxT, c client) *redis.IntCmd { return c.HSet(ctx, key, pairs...) }, intReply)
}

// redisHMGet is redis_hmget(h, key, f1, ...) or (h, key, {f1, ...}): a
// table field -> value, missing fields absent.
func redisHMGet(r *scriptRun, L *glua.LState) int {
	key, fields := L.CheckString(2), argStrings(redisArgsFrom(L, 3))
	if len(fields) == 0 {
		return pushRedis(r, L, L.NewTable(), nil)
	}
	return runRedisOp(r, L, redisRead, func(ctx ctxT, c client) *redis.SliceCmd { return c.HMGet(ctx, key, fields...) },
		func(r *scriptRun, L *glua.LState, cmd *redis.SliceCmd) glua.LValue {
			return keyedValues(r, L, fields, cmd.Val())
		})
}
