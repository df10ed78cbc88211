package lua

import (
	"context"

	"crypto/sha1"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
	glua "github.com/yuin/gopher-lua"
)

// redisEffects are nauthilus_redis's writes and what each does in a dry
// run (dryrun.go): no write is sent. Where a read tells what the write
// would have returned it is sent instead (an increment answers the current
// value plus the step, a pop the element it would take, a delete or an
// expire whether the key exists); other writes answer "OK" (status
// replies) or 0 (counts: nothing was changed). A script a dry run cannot
// see into (redis_run_script) answers like a Redis failure.
var redisEffects = map[string]runFunc{
	"redis_set":    dryRedisStatus,
	"redis_mset":   dryRedisStatus,
	"redis_rename": dryRedisStatus,
	"redis_expire": onKey(redisRead, func(c client, ctx ctxT, key string) *redis.IntCmd { return c.Exists(ctx, key) },
		func(_ *scriptRun, _ *glua.LState, c *redis.IntCmd) glua.LValue { return glua.LBool(c.Val() > 0) }),
	"redis_del": onKey(redisRead, func(c client, ctx ctxT, key string) *redis.IntCmd { return c.Exists(ctx, key) }, intReply),
	"redis_incr": func(r *scriptRun, L *glua.LState) int {
		key := L.CheckString(2)
		return dryRedisIncrement(r, L, 1, func(c client, ctx ctxT) *redis.StringCmd { return c.Get(ctx, key) })
	},
	"redis_hincrby": func(r *scriptRun, L *glua.LState) int {
		key, field, n := L.CheckString(2), L.CheckString(3), float64(int64(L.CheckNumber(4)))
		return dryRedisIncrement(r, L, n, func(c client, ctx ctxT) *redis.StringCmd { return c.HGet(ctx, key, field) })
	},
	"redis_hincrbyfloat": func(r *scriptRun, L *glua.LState) int {
		key, field, n := L.CheckString(2), L.CheckString(3), float64(L.CheckNumber(4))
		return dryRedisIncrement(r, L, n, func(c client, ctx ctxT) *redis.StringCmd { return c.HGet(ctx, key, field) })
	},
	"redis_zincrby": func(r *scriptRun, L *glua.LState) int {
		key, n, member := L.CheckString(2), float64(L.CheckNumber(3)), redisArg(L.CheckAny(4))
		return dryRedisIncrement(r, L, n, func(c client, ctx ctxT) *redis.StringCmd {
			cmd := redis.NewStringCmd(ctx, "zscore", key, member)
			// A client sends it, a pipeline queues it; both have Process.
			if p, ok := c.(interface {
				Process(context.Context, redis.Cmder) error
			}); ok {
				_ = p.Process(ctx, cmd)
			}
			return cmd
		})
	},
	"redis_lpop": onKey(redisRead, func(c client, ctx ctxT, key string) *redis.StringCmd { return c.LIndex(ctx, key, 0) }, stringReply),
	"redis_rpop": onKey(redisRead, func(c client, ctx ctxT, key string) *redis.StringCmd { return c.LIndex(ctx, key, -1) }, stringReply),

	"redis_hset":             dryRedisCount,
	"redis_hdel":             dryRedisCount,
	"redis_sadd":             dryRedisCount,
	"redis_srem":             dryRedisCount,
	"redis_zadd":             dryRedisCount,
	"redis_zrem":             dryRedisCount,
	"redis_zremrangebyscore": dryRedisCount,
	"redis_zremrangebyrank":  dryRedisCount,
	"redis_lpush":            dryRedisCount,
	"redis_rpush":            dryRedisCount,
	"redis_pfadd":            dryRedisCount,
	"redis_pfmerge":          dryRedisStatus,

	"redis_upload_script": dryRedisUpload,
	"redis_run_script":    dryError(redisModule + ".redis_run_script"),
}

func dryRedisStatus(_ *scriptRun, L *glua.LState) int {
	return pushRedisOK(L, glua.LString("OK"))
}

func dryRedisCount(_ *scriptRun, L *glua.LState) int {
	return pushRedisOK(L, glua.LNumber(0))
}

func pushRedisOK(L *glua.LState, v glua.LValue) int {
	L.Push(v)
	L.Push(glua.LNil)
	return 2
}

// dryRedisIncrement reads the current value (absent: 0) and answers it
// plus n, what the increment would have returned.
func dryRedisIncrement(r *scriptRun, L *glua.LState, n float64, read func(c client, ctx ctxT) *redis.StringCmd) int {
	conn, err := redisHandle(r, L)
	if err != nil {
		return pushRedis(r, L, nil, err)
	}
	cmd, err := redisCall(r, conn, func(ctx ctxT) *redis.StringCmd { return read(conn.read, ctx) })
	if err != nil && !errors.Is(err, redis.Nil) {
		return pushRedis(r, L, nil, err)
	}
	current := 0.0
	if err == nil {
		if current, err = strconv.ParseFloat(strings.TrimSpace(cmd.Val()), 64); err != nil {
			return pushRedis(r, L, nil, errors.New("ERR value is not a number"))
		}
	}
	return pushRedisOK(L, glua.LNumber(current+n))
}

// dryRedisUpload answers the script's SHA1 (what SCRIPT LOAD returns)
// without loading it or remembering its name.
func dryRedisUpload(r *scriptRun, L *glua.LState) int {
	source := L.CheckString(2)
	L.OptString(3, "")
	if len(source) > maxRedisScriptSource {
		return pushRedis(r, L, nil, errors.New("redis_upload_script: source longer than "+strconv.Itoa(maxRedisScriptSource)+" bytes"))
	}
	return pushRedisOK(L, glua.LString(scriptSHA1(source)))
}

// redisReadOnlyRows are the pipeline commands a dry run sends.
var redisReadOnlyRows = map[string]bool{
	"ping": true, "get": true, "exists": true, "mget": true, "keys": true, "scan": true,
	"hget": true, "hmget": true, "hgetall": true, "hexists": true, "hlen": true,
	"sismember": true, "smembers": true, "scard": true,
	"zrank": true, "zrevrank": true, "zrange": true, "zrevrange": true, "zrangebyscore": true,
	"zcount": true, "zscore": true, "lrange": true, "llen": true, "pfcount": true,
}

// dryPipeline sends a pipeline of reads only in a dry run; one with a
// write (or a script) answers like a Redis failure and sends nothing.
func dryPipeline(fn runFunc) runFunc {
	return func(r *scriptRun, L *glua.LState) int {
		if r.dryRun() {
			if rows, ok := L.Get(3).(*glua.LTable); ok && !pipelineReadOnly(rows) {
				return pushRedis(r, L, nil, r.dryRefused(redisModule+".redis_pipeline"))
			}
		}
		return fn(r, L)
	}
}

func pipelineReadOnly(rows *glua.LTable) bool {
	for i := 1; ; i++ {
		t, ok := rows.RawGetInt(i).(*glua.LTable)
		if !ok {
			return true // the end, or a malformed row the pipeline refuses itself
		}
		if !redisReadOnlyRows[strings.ToLower(redisArg(t.RawGetInt(1)))] {
			return false
		}
	}
}

func scriptSHA1(source string) string {
	sum := sha1.Sum([]byte(source))
	return hex.EncodeToString(sum[:])
}
