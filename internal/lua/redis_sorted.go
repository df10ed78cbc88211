package lua

import (
	"sort"
	"strconv"

	"github.com/redis/go-redis/v9"
	glua "github.com/yuin/gopher-lua"
)

// Sorted sets, lists and HyperLogLog (§4.1.2). The handle always comes
// first, although the 1.4/1.7-era docs leave it out.

// zMembers reads redis_zadd's members: a table {member = score} or
// variadic member, score pairs. Members are sent sorted by name; in the
// table form a numeric string score is parsed and other values count as 0.
func zMembers(L *glua.LState, n int) ([]redis.Z, error) {
	var out []redis.Z
	if t, ok := L.Get(n).(*glua.LTable); ok && L.GetTop() == n {
		t.ForEach(func(k, v glua.LValue) {
			score := 0.0
			switch x := v.(type) {
			case glua.LNumber:
				score = float64(x)
			case glua.LString:
				score, _ = strconv.ParseFloat(string(x), 64)
			}
			out = append(out, redis.Z{Member: redisArg(k), Score: score})
		})
	} else {
		args := make([]glua.LValue, 0, L.GetTop())
		for i := n; i <= L.GetTop(); i++ {
			args = append(args, L.Get(i))
		}
		if len(args) == 0 || len(args)%2 != 0 {
			return nil, errRedisArity
		}
		for i := 0; i < len(args); i += 2 {
			score, ok := args[i+1].(glua.LNumber)
			if !ok {
				f, err := strconv.ParseFloat(redisArg(args[i+1]), 64)
				if err != nil {
					return nil, errRedisArity
				}
				score = glua.LNumber(f)
			}
			out = append(out, redis.Z{Member: redisArg(args[i]), Score: float64(score)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Member.(string) < out[j].Member.(string) })
	return out, nil
}

func redisZAdd(r *scriptRun, L *glua.LState) int {
	key := L.CheckString(2)
	members, err := zMembers(L, 3)
	if err != nil {
		return pushRedis(r, L, nil, err)
	}
	if len(members) == 0 {
		return pushRedis(r, L, glua.LNumber(0), nil)
	}
	return runRedisOp(r, L, redisWrite, func(ctx ctxT, c client) *redis.IntCmd { return c.ZAdd(ctx, key, members...) }, intReply)
}

// onRange is a command of key, start and stop numbers.
func onRange[T redis.Cmder](write bool, call func(c client, ctx ctxT, key string, start, stop int64) T,
	conv func(r *scriptRun, L *glua.LState, cmd T) glua.LValue) runFunc {
	return redisCmd(write, func(L *glua.LState) redisOp[T] {
		key, start, stop := L.CheckString(2), int64(L.CheckNumber(3)), int64(L.CheckNumber(4))
		return func(ctx ctxT, c client) T { return call(c, ctx, key, start, stop) }
	}, conv)
}

// onScoreRange is a command of key, min and max as strings ("-inf",
// "(5"); numbers are coerced.
func onScoreRange[T redis.Cmder](write bool, call func(c client, ctx ctxT, key, min, max string) T,
	conv func(r *scriptRun, L *glua.LState, cmd T) glua.LValue) runFunc {
	return redisCmd(write, func(L *glua.LState) redisOp[T] {
		key, lo, hi := L.CheckString(2), redisArg(L.CheckAny(3)), redisArg(L.CheckAny(4))
		return func(ctx ctxT, c client) T { return call(c, ctx, key, lo, hi) }
	}, conv)
}

// withScores is ZREVRANGE WITHSCORES as {{member = m, score = n}, ...}.
func withScores(r *scriptRun, L *glua.LState, cmd *redis.ZSliceCmd) glua.LValue {
	zs := cmd.Val()
	size := 0
	for _, z := range zs {
		s, _ := z.Member.(string)
		size += len(s)
	}
	chargeReply(r, L, size, 3*len(zs))
	t := L.CreateTable(len(zs), 0)
	for _, z := range zs {
		row := L.CreateTable(0, 2)
		s, _ := z.Member.(string)
		row.RawSetString("member", glua.LString(s))
		row.RawSetString("score", glua.LNumber(z.Score))
		t.Append(row)
	}
	return t
}

// redisZRangeByScore is redis_zrangebyscore(h, key, min, max [, {offset=,
// count=}]) or (..., offset, count).
func redisZRangeByScore(r *scriptRun, L *glua.LState) int {
	key, lo, hi := L.CheckString(2), redisArg(L.CheckAny(3)), redisArg(L.CheckAny(4))
	by := &redis.ZRangeBy{Min: lo, Max: hi}
	switch x := L.Get(5).(type) {
	case *glua.LTable:
		by.Offset, by.Count = numField(x, "offset"), numField(x, "count")
	case glua.LNumber:
		by.Offset, by.Count = int64(x), int64(L.OptNumber(6, 0))
	}
	return runRedisOp(r, L, redisRead, func(ctx ctxT, c client) *redis.StringSliceCmd { return c.ZRangeByScore(ctx, key, by) }, sliceReply)
}

func numField(t *glua.LTable, k string) int64 {
	n, _ := t.RawGetString(k).(glua.LNumber)
	return int64(n)
}

var redisSortedFunctions = map[string]runFunc{
	"redis_zadd":                 redisZAdd,
	"redis_zrem":                 onKeyList(redisWrite, func(c client, ctx ctxT, key string, m []any) *redis.IntCmd { return c.ZRem(ctx, key, m...) }, intReply),
	"redis_zrange":               onRange(redisRead, client.ZRange, sliceReply),
	"redis_zrevrange":            onRange(redisRead, client.ZRevRange, sliceReply),
	"redis_zrevrange_withscores": onRange(redisRead, client.ZRevRangeWithScores, withScores),
	"redis_zrangebyscore":        redisZRangeByScore,
	"redis_zremrangebyscore":     onScoreRange(redisWrite, client.ZRemRangeByScore, intReply),
	"redis_zremrangebyrank":      onRange(redisWrite, client.ZRemRangeByRank, intReply),
	"redis_zrank":                onKeyArg(redisRead, client.ZRank, intReply),
	"redis_zrevrank":             onKeyArg(redisRead, client.ZRevRank, intReply),
	"redis_zcount":               onScoreRange(redisRead, client.ZCount, intReply),
	"redis_zscore":               onKeyArg(redisRead, client.ZScore, floatReply),
	"redis_zincrby": redisCmd(redisWrite, func(L *glua.LState) redisOp[*redis.FloatCmd] {
		key, incr, member := L.CheckString(2), float64(L.CheckNumber(3)), redisArg(L.CheckAny(4))
		return func(ctx ctxT, c client) *redis.FloatCmd { return c.ZIncrBy(ctx, key, incr, member) }
	}, floatReply),

	"redis_lpush":  onKeyList(redisWrite, func(c client, ctx ctxT, key string, v []any) *redis.IntCmd { return c.LPush(ctx, key, v...) }, intReply),
	"redis_rpush":  onKeyList(redisWrite, func(c client, ctx ctxT, key string, v []any) *redis.IntCmd { return c.RPush(ctx, key, v...) }, intReply),
	"redis_lpop":   onKey(redisWrite, client.LPop, stringReply),
	"redis_rpop":   onKey(redisWrite, client.RPop, stringReply),
	"redis_lrange": onRange(redisRead, client.LRange, sliceReply),
	"redis_llen":   onKey(redisRead, client.LLen, intReply),

	"redis_pfadd": onKeyList(redisWrite, func(c client, ctx ctxT, key string, v []any) *redis.IntCmd { return c.PFAdd(ctx, key, v...) }, intReply),
	"redis_pfcount": redisCmd(redisRead, func(L *glua.LState) redisOp[*redis.IntCmd] {
		keys := argStrings(redisArgsFrom(L, 2))
		return func(ctx ctxT, c client) *redis.IntCmd { return c.PFCount(ctx, keys...) }
	}, intReply),
	"redis_pfmerge": redisCmd(redisWrite, func(L *glua.LState) redisOp[*redis.StatusCmd] {
		dest, srcs := L.CheckString(2), argStrings(redisArgsFrom(L, 3))
		return func(ctx ctxT, c client) *redis.StatusCmd { return c.PFMerge(ctx, dest, srcs...) }
	}, statusReply),
}
