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

// nauthilus_redis (spec nauthilus-lua-modules §4.1): the documented command
// wrappers, scripts and pipelines on named connections, "default" being
// storage.redis's client. The files:
//
//	redis.go                the module table, handles, calls, replies, errors
//	redis_pools.go          the process-wide state: default client, pools
//	redis_strings.go        strings, keys, hashes, sets (one-form commands)
//	redis_multi.go          redis_set, mget/mset, scan, hset, hmget
//	redis_sorted.go         sorted sets, lists, HyperLogLog
//	redis_scripts.go        redis_upload_script, redis_run_script
//	redis_pipeline.go       redis_pipeline (checking, sending, results)
//	redis_pipeline_rows.go  the pipeline's hash, set, sorted set, list rows
//	redis_require.go        refusing scripts that need it when Redis is absent
//
// Every function returns (result, nil) or (nil, "error text") and never
// raises for a Redis failure; only wrong argument types raise (§2.2).
const redisModule = "nauthilus_redis"

func init() {
	fns := map[string]runFunc{
		"register_redis_pool":         registerRedisPool,
		"get_redis_connection":        getRedisConnection,
		"redis_upload_script":         redisUploadScript,
		"redis_run_script":            redisRunScript,
		"redis_pipeline":              redisPipeline,
		"redis_encrypt":               redisNoSecurityManager,
		"redis_decrypt":               redisNoSecurityManager,
		"redis_is_encryption_enabled": redisEncryptionEnabled,
	}
	for name, f := range redisStringFunctions {
		fns[name] = f
	}
	for name, f := range redisSortedFunctions {
		fns[name] = f
	}
	// Writes do nothing in a dry run (explain); see redis_dryrun.go.
	markEffects(redisModule, fns, redisEffects)
	fns["redis_pipeline"] = dryPipeline(redisPipeline)
	for name, f := range fns {
		if name != "get_redis_connection" && name != "register_redis_pool" {
			fns[name] = handleOptional(f)
		}
	}
	registerModule(module{Name: redisModule, Filter: true, Password: true, Functions: fns})
}

// redisNilText is go-redis's "not found" error text; shipped scripts and
// nauthilus_util.if_error_raise compare against it (§4.1.5).
const redisNilText = "redis: nil"

var errRedisNotConfigured = errors.New("nauthilus_redis: storage.redis is not configured")

// redisConn is what a handle stands for: reads go to read, writes,
// scripts and uploads to write (the same client except for a
// sentinel_replica pool).
type redisConn struct {
	name        string
	read, write redis.UniversalClient
	// bound is the longest a command can take by the clients' own
	// timeouts (0: unknown), see redisCall.
	bound time.Duration
	// metrics counts the calls by outcome (nil: not counted).
	metrics *redisMetrics
	// batch pipelines the single commands of concurrent runs (the default
	// connection; redis_autopipe.go); nil sends each on its own.
	batch *cmdBatcher
}

// redisHandle resolves argument 1 (after handleOptional): a handle from
// get_redis_connection, or anything else (a connection name, nil, a
// foreign value), which means "default" as in Nauthilus (§4.1.1).
func redisHandle(r *scriptRun, L *glua.LState) (*redisConn, error) {
	if ud, ok := L.Get(1).(*glua.LUserData); ok {
		if c, ok := ud.Value.(*redisConn); ok {
			return c, nil
		}
	}
	return redisState(r.engine.host).defaultConn()
}

// handleOptional lets a command wrapper be called without the handle, as
// the v1.3-1.5 modules were (redis_hget(key, field)): the one place that
// tells the two forms apart, so every wrapper reads its arguments from 2
// on. Argument 1 starts the old form when it is a string or a number (a
// key, a cursor, a script source, a pipeline mode) that does not name a
// connection ("default" or a registered pool); then "default" is inserted
// as argument 1. A handle, a connection name and anything that cannot be
// a key (nil, none, a table, another userdata) keep the handle form, where
// they mean what they always did (redisHandle). The one ambiguity: a key
// spelled like a connection name is taken for the connection.
func handleOptional(f runFunc) runFunc {
	return func(r *scriptRun, L *glua.LState) int {
		if oldRedisForm(r, L.Get(1)) {
			L.Insert(defaultHandleName, 1)
		}
		return f(r, L)
	}
}

// defaultHandleName is the handle the old form inserts.
const defaultHandleName = glua.LString("default")

// oldRedisForm reports whether a command's argument 1 is a key rather
// than a handle (handleOptional).
func oldRedisForm(r *scriptRun, first glua.LValue) bool {
	switch v := first.(type) {
	case glua.LString:
		return v != defaultHandleName && !redisState(r.engine.host).hasPool(string(v))
	case glua.LNumber:
		return true
	}
	return false
}

// redisCall runs one command under the run's context. go-redis honours
// the context only while waiting for a connection; a server that stops
// answering holds a call until the client's own timeouts end it. When
// those end it before the run's deadline (conn.bound, the usual case:
// storage.redis's 0.5 s reads against a 30 s script_timeout) the command
// runs right here. Otherwise it runs on its own goroutine and the call
// returns when the run's deadline passes (or the run is cancelled), so
// script_timeout holds even with a blocked Redis; the abandoned command
// ends by its own timeouts. (The goroutine costs a wake-up, about a tenth
// of a command's CPU, which is why it is not always used.)
func redisCall[T redis.Cmder](r *scriptRun, conn *redisConn, fn func(ctx context.Context) T) (T, error) {
	var zero T
	if err := r.ctx.Err(); err != nil {
		return zero, err
	}
	ctx := r.replyCtx()
	defer r.waiting()()
	if conn.endsBefore(ctx) {
		cmd := fn(ctx)
		conn.metrics.count(cmd.Err())
		return cmd, refusedReply(cmd, cmd.Err(), r.engine.maxMemory)
	}
	done := make(chan T, 1)
	go func() { done <- fn(ctx) }()
	select {
	case cmd := <-done:
		conn.metrics.count(cmd.Err())
		return cmd, refusedReply(cmd, cmd.Err(), r.engine.maxMemory)
	case <-ctx.Done():
		conn.metrics.count(ctx.Err())
		return zero, ctx.Err()
	}
}

// redisWait is redisCall for a call that returns only an error.
func redisWait(r *scriptRun, conn *redisConn, fn func(ctx context.Context) error) error {
	if err := r.ctx.Err(); err != nil {
		return err
	}
	ctx := r.replyCtx()
	defer r.waiting()()
	var err error
	if conn.endsBefore(ctx) {
		err = fn(ctx)
	} else {
		done := make(chan error, 1)
		go func() { done <- fn(ctx) }()
		select {
		case err = <-done:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	if isReplyError(err) {
		conn.metrics.count(nil) // the batch went through; a row's error is the row's
	} else {
		conn.metrics.count(err)
	}
	return err
}

// waiting tells the watchdog not to ask the run to measure itself for
// the time it waits on Redis, and returns the function that ends the
// wait. A waiting run builds nothing, so a measurement then would find
// what the last one found, and it is not cheap: a walk of the whole state,
// tens of microseconds. Without this, every run that waited more than the
// watchdog's 2 ms tick (a busy Redis) paid a walk when its reply came, a
// fifth of the daemon's CPU in bench/authload -mode redis on a loaded
// machine. The reply is charged to the budget (chargeReply) and the usual
// measurements resume after the wait. A request the watchdog made before
// the wait stands; one it made during it is dropped, including one from a
// tick that read nextMeasure just before the swap (CI saw that walk).
func (r *scriptRun) waiting() func() {
	due := r.measureDue.Load()
	prev := r.nextMeasure.Swap(math.MaxInt64)
	return func() {
		r.nextMeasure.Store(prev)
		r.measureDue.Store(due)
	}
}

// endsBefore reports whether the client's own timeouts end any command
// before ctx's deadline.
func (c *redisConn) endsBefore(ctx context.Context) bool {
	deadline, ok := ctx.Deadline()
	return ok && c.bound > 0 && time.Until(deadline) > c.bound
}

// redisError is the text a script sees: "redis: nil" exactly for a nil
// reply, the request password and test passwords never.
func (r *scriptRun) redisError(err error) glua.LValue {
	if errors.Is(err, redis.Nil) {
		return glua.LString(redisNilText)
	}
	return glua.LString(r.redact(err.Error()))
}

// pushRedis pushes (v, nil) or (nil, err): the pair every function returns.
func pushRedis(r *scriptRun, L *glua.LState, v glua.LValue, err error) int {
	if err != nil {
		raiseIfRefused(r, L, err) // a reply over the budget (redis_replies.go)
		L.Push(glua.LNil)
		L.Push(r.redisError(err))
		return 2
	}
	L.Push(v)
	L.Push(glua.LNil)
	return 2
}

// redisArg encodes a Lua value as a command argument as go-redis does
// (§4.1.2): strings as is, numbers in shortest decimal form, booleans as
// "1"/"0", anything else as its tostring text.
func redisArg(v glua.LValue) string {
	switch x := v.(type) {
	case glua.LString:
		return string(x)
	case glua.LNumber:
		return strconv.FormatFloat(float64(x), 'f', -1, 64)
	case glua.LBool:
		if x {
			return "1"
		}
		return "0"
	}
	return v.String()
}

// maxRedisArgs bounds the values one command takes from a table: the
// table may repeat one string a million times at little cost to the run's
// budget, while each value costs the daemon a copy in the command.
const maxRedisArgs = 100000

// redisArgsFrom collects the arguments from position n on: either
// variadic values or one array table (the two forms scripts use).
func redisArgsFrom(L *glua.LState, n int) []any {
	if t, ok := L.Get(n).(*glua.LTable); ok && L.GetTop() == n {
		return tableArgsOf(L, t)
	}
	out := make([]any, 0, max(L.GetTop()-n+1, 0))
	for i := n; i <= L.GetTop(); i++ {
		out = append(out, redisArg(L.Get(i)))
	}
	return out
}

// argStrings is redisArgsFrom's result as strings.
func argStrings(args []any) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = a.(string)
	}
	return out
}

// redisReplyCost is what a reply costs the run's memory budget: its string
// bytes plus a table slot per element, charged before it becomes Lua
// values, so a huge value fails the run instead of the daemon.
const redisElementCost = 40

func chargeReply(r *scriptRun, L *glua.LState, bytes, elements int) {
	r.vm().chargeRetained(L, int64(bytes)+int64(elements)*redisElementCost)
}

// luaString is a string result, charged.
func luaString(r *scriptRun, L *glua.LState, s string) glua.LValue {
	chargeReply(r, L, len(s), 0)
	return glua.LString(s)
}

// luaStrings is an array of strings, charged.
func luaStrings(r *scriptRun, L *glua.LState, list []string) *glua.LTable {
	n := 0
	for _, s := range list {
		n += len(s)
	}
	chargeReply(r, L, n, len(list))
	t := L.CreateTable(len(list), 0)
	for _, s := range list {
		t.Append(glua.LString(s))
	}
	return t
}

// luaStringMap is a field -> value table, charged.
func luaStringMap(r *scriptRun, L *glua.LState, m map[string]string) *glua.LTable {
	// A hash entry costs far more than a list slot (luaBuild's measured
	// costs): charged as such, not at redisElementCost.
	n := luaHashCost
	for k, v := range m {
		n += len(k) + len(v) + luaHashEntryCost + luaBoxCost
	}
	chargeReply(r, L, n, 0)
	t := L.CreateTable(0, len(m))
	for k, v := range m {
		t.RawSetString(k, glua.LString(v))
	}
	return t
}

// redisReply converts a script or generic reply (§4.1.3): integers become
// numbers, bulk and status replies strings, arrays sequence tables; a nil
// reply (a script returning false or nil) is "redis: nil". A RESP3 server
// reports a script's booleans as booleans: true is 1, false nil, as RESP2
// clients see them. Nesting deeper than maxHostDepth becomes text.
func redisReply(r *scriptRun, L *glua.LState, v any, depth int) (glua.LValue, error) {
	switch x := v.(type) {
	case nil:
		return nil, redis.Nil
	case bool:
		if !x {
			return nil, redis.Nil
		}
		return glua.LNumber(1), nil
	case int64:
		return glua.LNumber(x), nil
	case float64:
		return glua.LNumber(x), nil
	case string:
		return luaString(r, L, x), nil
	case redis.Error:
		return nil, x
	case []any:
		chargeReply(r, L, 0, len(x))
		t := L.CreateTable(len(x), 0)
		for _, e := range x {
			if depth >= maxHostDepth {
				t.Append(glua.LString("(nested too deep)"))
				continue
			}
			lv, err := redisReply(r, L, e, depth+1)
			if err != nil {
				if errors.Is(err, redis.Nil) {
					lv = glua.LFalse // Redis's own Lua gives false for nil elements
				} else {
					lv = glua.LString(err.Error())
				}
			}
			t.Append(lv)
		}
		return t, nil
	case map[any]any:
		chargeReply(r, L, luaHashCost+len(x)*(luaHashEntryCost+luaBoxCost), 0)
		t := L.CreateTable(0, len(x))
		for _, k := range sortedHostKeys(x) {
			lv, err := redisReply(r, L, x[k], depth+1)
			if err != nil {
				continue
			}
			t.RawSet(hostToLua(L, k), lv)
		}
		return t, nil
	}
	return hostToLua(L, v), nil
}

// redisNoSecurityManager is redis_encrypt and redis_decrypt: backline has
// no Nauthilus security manager, so both answer as Nauthilus does without
// one (§4.1.6).
func redisNoSecurityManager(r *scriptRun, L *glua.LState) int {
	return pushRedis(r, L, nil, errors.New("security manager not available"))
}

func redisEncryptionEnabled(_ *scriptRun, L *glua.LState) int {
	L.Push(glua.LFalse)
	return 1
}

// printableName is a script-given name in an error text: control
// characters shown as '?', at most 128 bytes.
func printableName(s string) string {
	const maxName = 128
	b := []byte(s)
	if len(b) > maxName {
		b = append(b[:maxName:maxName], "..."...)
	}
	for i, c := range b {
		if c < 0x20 || c == 0x7f {
			b[i] = '?'
		}
	}
	return string(b)
}
