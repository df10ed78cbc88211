package lua

import (
	"context"
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	glua "github.com/yuin/gopher-lua"
)

// The string, key, hash and set wrappers of §4.1.2. Each reads its
// arguments (a wrong type raises, §2.2), resolves the handle, runs one
// command under the run's context and converts the reply; "redis: nil" is
// the not-found error where the spec says so.

var errRedisArity = errors.New("invalid number of arguments")

// redisOp is a command with its arguments read: it runs on its own
// goroutine (redisCall), so it must not touch the Lua state.
type redisOp[T redis.Cmder] func(ctx context.Context, c redis.Cmdable) T

// redisCmd builds a module function: build reads the arguments on the
// run's goroutine, the op runs on the read or write client, conv turns
// the reply into a Lua value.
func redisCmd[T redis.Cmder](write bool, build func(L *glua.LState) redisOp[T],
	conv func(r *scriptRun, L *glua.LState, cmd T) glua.LValue) runFunc {
	return func(r *scriptRun, L *glua.LState) int {
		op := build(L)
		return runRedisOp(r, L, write, op, conv)
	}
}

func runRedisOp[T redis.Cmder](r *scriptRun, L *glua.LState, write bool, op redisOp[T],
	conv func(r *scriptRun, L *glua.LState, cmd T) glua.LValue) int {
	conn, err := redisHandle(r, L)
	if err != nil {
		return pushRedis(r, L, nil, err)
	}
	client := conn.read
	if write {
		client = conn.write
	}
	cmd, err := batchedCall(r, conn, client, op)
	if err != nil {
		return pushRedis(r, L, nil, err)
	}
	return pushRedis(r, L, conv(r, L, cmd), nil)
}

// onKey is a command of one key argument.
func onKey[T redis.Cmder](write bool, call func(c redis.Cmdable, ctx context.Context, key string) T,
	conv func(r *scriptRun, L *glua.LState, cmd T) glua.LValue) runFunc {
	return redisCmd(write, func(L *glua.LState) redisOp[T] {
		key := L.CheckString(2)
		return func(ctx context.Context, c redis.Cmdable) T { return call(c, ctx, key) }
	}, conv)
}

// onKeyArg is a command of a key and one more string argument.
func onKeyArg[T redis.Cmder](write bool, call func(c redis.Cmdable, ctx context.Context, key, arg string) T,
	conv func(r *scriptRun, L *glua.LState, cmd T) glua.LValue) runFunc {
	return redisCmd(write, func(L *glua.LState) redisOp[T] {
		key, arg := L.CheckString(2), redisArg(L.CheckAny(3))
		return func(ctx context.Context, c redis.Cmdable) T { return call(c, ctx, key, arg) }
	}, conv)
}

// onKeyList is a command of a key and members, variadic or one table.
func onKeyList[T redis.Cmder](write bool, call func(c redis.Cmdable, ctx context.Context, key string, list []any) T,
	conv func(r *scriptRun, L *glua.LState, cmd T) glua.LValue) runFunc {
	return redisCmd(write, func(L *glua.LState) redisOp[T] {
		key, list := L.CheckString(2), redisArgsFrom(L, 3)
		return func(ctx context.Context, c redis.Cmdable) T { return call(c, ctx, key, list) }
	}, conv)
}

const (
	redisRead  = false
	redisWrite = true
)

// Reply converters shared by the wrappers and the pipeline.
func intReply(_ *scriptRun, _ *glua.LState, c *redis.IntCmd) glua.LValue {
	return glua.LNumber(c.Val())
}
func boolReply(_ *scriptRun, _ *glua.LState, c *redis.BoolCmd) glua.LValue {
	return glua.LBool(c.Val())
}
func floatReply(_ *scriptRun, _ *glua.LState, c *redis.FloatCmd) glua.LValue {
	return glua.LNumber(c.Val())
}
func statusReply(r *scriptRun, L *glua.LState, c *redis.StatusCmd) glua.LValue {
	return luaString(r, L, c.Val())
}
func stringReply(r *scriptRun, L *glua.LState, c *redis.StringCmd) glua.LValue {
	return luaString(r, L, c.Val())
}
func sliceReply(r *scriptRun, L *glua.LState, c *redis.StringSliceCmd) glua.LValue {
	return luaStrings(r, L, c.Val())
}
func mapReply(r *scriptRun, L *glua.LState, c *redis.MapStringStringCmd) glua.LValue {
	return luaStringMap(r, L, c.Val())
}

// typedValue applies redis_get's and redis_hget's optional type argument;
// an empty value is nil whatever the type (§4.1.2).
func typedValue(r *scriptRun, L *glua.LState, s, typ string) (glua.LValue, error) {
	if s == "" || typ == "nil" {
		return glua.LNil, nil
	}
	switch typ {
	case "number":
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, errors.New("value is not a number")
		}
		return glua.LNumber(f), nil
	case "boolean":
		b, err := strconv.ParseBool(s)
		if err != nil {
			return nil, errors.New("value is not a boolean")
		}
		return glua.LBool(b), nil
	}
	return luaString(r, L, s), nil
}

func typedGet(call func(c redis.Cmdable, ctx context.Context, key, field string) *redis.StringCmd, withField bool) runFunc {
	return func(r *scriptRun, L *glua.LState) int {
		key, field, typeArg := L.CheckString(2), "", 3
		if withField {
			field, typeArg = L.CheckString(3), 4
		}
		typ := L.OptString(typeArg, "string")
		conn, err := redisHandle(r, L)
		if err != nil {
			return pushRedis(r, L, nil, err)
		}
		cmd, err := batchedCall(r, conn, conn.read, func(ctx context.Context, c redis.Cmdable) *redis.StringCmd { return call(c, ctx, key, field) })
		if err != nil {
			return pushRedis(r, L, nil, err)
		}
		v, err := typedValue(r, L, cmd.Val(), typ)
		return pushRedis(r, L, v, err)
	}
}

type client = redis.Cmdable
type ctxT = context.Context

var redisStringFunctions = map[string]runFunc{
	"redis_ping": redisCmd(redisRead, func(*glua.LState) redisOp[*redis.StatusCmd] {
		return func(ctx ctxT, c client) *redis.StatusCmd { return c.Ping(ctx) }
	}, statusReply),
	"redis_get":  typedGet(func(c client, ctx ctxT, key, _ string) *redis.StringCmd { return c.Get(ctx, key) }, false),
	"redis_set":  redisSet,
	"redis_incr": onKey(redisWrite, client.Incr, intReply),
	"redis_del":  onKey(redisWrite, func(c client, ctx ctxT, key string) *redis.IntCmd { return c.Del(ctx, key) }, intReply),
	"redis_rename": redisCmd(redisWrite, func(L *glua.LState) redisOp[*redis.StatusCmd] {
		from, to := L.CheckString(2), L.CheckString(3)
		return func(ctx ctxT, c client) *redis.StatusCmd { return c.Rename(ctx, from, to) }
	}, statusReply),
	"redis_expire": redisCmd(redisWrite, func(L *glua.LState) redisOp[*redis.BoolCmd] {
		key, ttl := L.CheckString(2), seconds(L.CheckNumber(3))
		return func(ctx ctxT, c client) *redis.BoolCmd { return c.Expire(ctx, key, ttl) }
	}, boolReply),
	"redis_exists": onKey(redisRead, func(c client, ctx ctxT, key string) *redis.IntCmd { return c.Exists(ctx, key) }, intReply),
	"redis_mget":   redisMGet,
	"redis_mset":   redisMSet,
	"redis_keys":   onKey(redisRead, client.Keys, sliceReply),
	"redis_scan":   redisScan,

	"redis_hget":  typedGet(client.HGet, true),
	"redis_hset":  redisHSet,
	"redis_hmget": redisHMGet,
	"redis_hdel": func(r *scriptRun, L *glua.LState) int {
		key, fields := L.CheckString(2), argStrings(redisArgsFrom(L, 3))
		if len(fields) == 0 {
			return pushRedis(r, L, glua.LNumber(0), nil)
		}
		return runRedisOp(r, L, redisWrite, func(ctx ctxT, c client) *redis.IntCmd { return c.HDel(ctx, key, fields...) }, intReply)
	},
	"redis_hlen":    onKey(redisRead, client.HLen, intReply),
	"redis_hgetall": onKey(redisRead, client.HGetAll, mapReply),
	"redis_hincrby": redisCmd(redisWrite, func(L *glua.LState) redisOp[*redis.IntCmd] {
		key, field, n := L.CheckString(2), L.CheckString(3), int64(L.CheckNumber(4))
		return func(ctx ctxT, c client) *redis.IntCmd { return c.HIncrBy(ctx, key, field, n) }
	}, intReply),
	"redis_hincrbyfloat": redisCmd(redisWrite, func(L *glua.LState) redisOp[*redis.FloatCmd] {
		key, field, n := L.CheckString(2), L.CheckString(3), float64(L.CheckNumber(4))
		return func(ctx ctxT, c client) *redis.FloatCmd { return c.HIncrByFloat(ctx, key, field, n) }
	}, floatReply),
	"redis_hexists": onKeyArg(redisRead, client.HExists, boolReply),

	"redis_sadd":      onKeyList(redisWrite, func(c client, ctx ctxT, key string, m []any) *redis.IntCmd { return c.SAdd(ctx, key, m...) }, intReply),
	"redis_sismember": onKeyArg(redisRead, func(c client, ctx ctxT, key, m string) *redis.BoolCmd { return c.SIsMember(ctx, key, m) }, boolReply),
	"redis_smembers":  onKey(redisRead, client.SMembers, sliceReply),
	"redis_srem":      onKeyList(redisWrite, func(c client, ctx ctxT, key string, m []any) *redis.IntCmd { return c.SRem(ctx, key, m...) }, intReply),
	"redis_scard":     onKey(redisRead, client.SCard, intReply),
}

// seconds turns a Lua number of seconds into a duration, saturating.
func seconds(n glua.LNumber) time.Duration {
	f := float64(n) * float64(time.Second)
	if f >= math.MaxInt64 || f != f {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(f)
}
