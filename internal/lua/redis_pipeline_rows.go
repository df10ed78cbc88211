package lua

import (
	"github.com/redis/go-redis/v9"
	glua "github.com/yuin/gopher-lua"
)

// The pipeline rows for hashes, sets, sorted sets, lists and HyperLogLog
// (§4.1.4). Rows are positional and differ from the top-level functions
// in places: `zadd k score member` (one pair, score first), `zrem k m`
// (one member), mget/hmget as positional arrays.

type rowConv = func(*scriptRun, *glua.LState) glua.LValue

var pipeMoreCommands = map[string]pipeBuilder{
	"hget": func(p redis.Pipeliner, ctx ctxT, a *rowArgs) (redis.Cmder, rowConv) {
		c := p.HGet(ctx, a.str(2), a.str(3))
		return c, rowString(c)
	},
	"hset": func(p redis.Pipeliner, ctx ctxT, a *rowArgs) (redis.Cmder, rowConv) {
		pairs := a.list(3)
		if len(pairs) == 0 || len(pairs)%2 != 0 {
			a.err = errRedisArity
		}
		c := p.HSet(ctx, a.str(2), pairs...)
		return c, rowInt(c)
	},
	"hmget": func(p redis.Pipeliner, ctx ctxT, a *rowArgs) (redis.Cmder, rowConv) {
		c := p.HMGet(ctx, a.str(2), argStrings(a.list(3))...)
		return c, rowPositional(c)
	},
	"hgetall": func(p redis.Pipeliner, ctx ctxT, a *rowArgs) (redis.Cmder, rowConv) {
		c := p.HGetAll(ctx, a.str(2))
		return c, func(r *scriptRun, L *glua.LState) glua.LValue { return luaStringMap(r, L, c.Val()) }
	},
	"hexists": func(p redis.Pipeliner, ctx ctxT, a *rowArgs) (redis.Cmder, rowConv) {
		c := p.HExists(ctx, a.str(2), a.str(3))
		return c, rowBool(c)
	},
	"hincrby": func(p redis.Pipeliner, ctx ctxT, a *rowArgs) (redis.Cmder, rowConv) {
		c := p.HIncrBy(ctx, a.str(2), a.str(3), int64(a.num(4)))
		return c, rowInt(c)
	},
	"hincrbyfloat": func(p redis.Pipeliner, ctx ctxT, a *rowArgs) (redis.Cmder, rowConv) {
		c := p.HIncrByFloat(ctx, a.str(2), a.str(3), a.num(4))
		return c, rowFloat(c)
	},
	"hdel": func(p redis.Pipeliner, ctx ctxT, a *rowArgs) (redis.Cmder, rowConv) {
		c := p.HDel(ctx, a.str(2), argStrings(a.list(3))...)
		return c, rowInt(c)
	},
	"hlen": keyRow(redis.Pipeliner.HLen),

	"sadd": func(p redis.Pipeliner, ctx ctxT, a *rowArgs) (redis.Cmder, rowConv) {
		c := p.SAdd(ctx, a.str(2), a.list(3)...)
		return c, rowInt(c)
	},
	"sismember": func(p redis.Pipeliner, ctx ctxT, a *rowArgs) (redis.Cmder, rowConv) {
		c := p.SIsMember(ctx, a.str(2), a.str(3))
		return c, rowBool(c)
	},
	"smembers": func(p redis.Pipeliner, ctx ctxT, a *rowArgs) (redis.Cmder, rowConv) {
		c := p.SMembers(ctx, a.str(2))
		return c, rowStrings(c)
	},
	"srem": func(p redis.Pipeliner, ctx ctxT, a *rowArgs) (redis.Cmder, rowConv) {
		c := p.SRem(ctx, a.str(2), a.list(3)...)
		return c, rowInt(c)
	},
	"scard": keyRow(redis.Pipeliner.SCard),

	"zadd": func(p redis.Pipeliner, ctx ctxT, a *rowArgs) (redis.Cmder, rowConv) {
		c := p.ZAdd(ctx, a.str(2), redis.Z{Score: a.num(3), Member: a.str(4)})
		return c, rowInt(c)
	},
	"zrem": func(p redis.Pipeliner, ctx ctxT, a *rowArgs) (redis.Cmder, rowConv) {
		c := p.ZRem(ctx, a.str(2), a.str(3))
		return c, rowInt(c)
	},
	"zrank": func(p redis.Pipeliner, ctx ctxT, a *rowArgs) (redis.Cmder, rowConv) {
		c := p.ZRank(ctx, a.str(2), a.str(3))
		return c, rowInt(c)
	},
	"zrevrank": func(p redis.Pipeliner, ctx ctxT, a *rowArgs) (redis.Cmder, rowConv) {
		c := p.ZRevRank(ctx, a.str(2), a.str(3))
		return c, rowInt(c)
	},
	"zrange": func(p redis.Pipeliner, ctx ctxT, a *rowArgs) (redis.Cmder, rowConv) {
		c := p.ZRange(ctx, a.str(2), int64(a.num(3)), int64(a.num(4)))
		return c, rowStrings(c)
	},
	"zrevrange": func(p redis.Pipeliner, ctx ctxT, a *rowArgs) (redis.Cmder, rowConv) {
		c := p.ZRevRange(ctx, a.str(2), int64(a.num(3)), int64(a.num(4)))
		return c, rowStrings(c)
	},
	"zrangebyscore": func(p redis.Pipeliner, ctx ctxT, a *rowArgs) (redis.Cmder, rowConv) {
		by := &redis.ZRangeBy{Min: a.str(3), Max: a.str(4)}
		if t, ok := a.t.RawGetInt(5).(*glua.LTable); ok {
			by.Offset, by.Count = numField(t, "offset"), numField(t, "count")
		}
		c := p.ZRangeByScore(ctx, a.str(2), by)
		return c, rowStrings(c)
	},
	"zremrangebyscore": func(p redis.Pipeliner, ctx ctxT, a *rowArgs) (redis.Cmder, rowConv) {
		c := p.ZRemRangeByScore(ctx, a.str(2), a.str(3), a.str(4))
		return c, rowInt(c)
	},
	"zremrangebyrank": func(p redis.Pipeliner, ctx ctxT, a *rowArgs) (redis.Cmder, rowConv) {
		c := p.ZRemRangeByRank(ctx, a.str(2), int64(a.num(3)), int64(a.num(4)))
		return c, rowInt(c)
	},
	"zcount": func(p redis.Pipeliner, ctx ctxT, a *rowArgs) (redis.Cmder, rowConv) {
		c := p.ZCount(ctx, a.str(2), a.str(3), a.str(4))
		return c, rowInt(c)
	},
	"zscore": func(p redis.Pipeliner, ctx ctxT, a *rowArgs) (redis.Cmder, rowConv) {
		c := p.ZScore(ctx, a.str(2), a.str(3))
		return c, rowFloat(c)
	},
	"zincrby": func(p redis.Pipeliner, ctx ctxT, a *rowArgs) (redis.Cmder, rowConv) {
		c := p.ZIncrBy(ctx, a.str(2), a.num(3), a.str(4))
		return c, rowFloat(c)
	},

	"lpush": func(p redis.Pipeliner, ctx ctxT, a *rowArgs) (redis.Cmder, rowConv) {
		c := p.LPush(ctx, a.str(2), a.list(3)...)
		return c, rowInt(c)
	},
	"rpush": func(p redis.Pipeliner, ctx ctxT, a *rowArgs) (redis.Cmder, rowConv) {
		c := p.RPush(ctx, a.str(2), a.list(3)...)
		return c, rowInt(c)
	},
	"lpop": func(p redis.Pipeliner, ctx ctxT, a *rowArgs) (redis.Cmder, rowConv) {
		c := p.LPop(ctx, a.str(2))
		return c, rowString(c)
	},
	"rpop": func(p redis.Pipeliner, ctx ctxT, a *rowArgs) (redis.Cmder, rowConv) {
		c := p.RPop(ctx, a.str(2))
		return c, rowString(c)
	},
	"lrange": func(p redis.Pipeliner, ctx ctxT, a *rowArgs) (redis.Cmder, rowConv) {
		c := p.LRange(ctx, a.str(2), int64(a.num(3)), int64(a.num(4)))
		return c, rowStrings(c)
	},
	"llen": keyRow(redis.Pipeliner.LLen),

	"pfadd": func(p redis.Pipeliner, ctx ctxT, a *rowArgs) (redis.Cmder, rowConv) {
		c := p.PFAdd(ctx, a.str(2), a.list(3)...)
		return c, rowInt(c)
	},
	"pfcount": func(p redis.Pipeliner, ctx ctxT, a *rowArgs) (redis.Cmder, rowConv) {
		c := p.PFCount(ctx, argStrings(a.list(2))...)
		return c, rowInt(c)
	},
	"pfmerge": func(p redis.Pipeliner, ctx ctxT, a *rowArgs) (redis.Cmder, rowConv) {
		c := p.PFMerge(ctx, a.str(2), argStrings(a.list(3))...)
		return c, rowString(c)
	},
}
