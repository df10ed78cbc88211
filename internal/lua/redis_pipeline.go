package lua

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
	glua "github.com/yuin/gopher-lua"
)

// redis_pipeline(h, mode, commands) (§4.1.4): plain pipelining, no
// MULTI/EXEC. Every row is checked before anything is sent, so an unknown
// command or a malformed row gives (nil, err) and writes nothing. Results
// come back one per row: {ok=true, value=...} ({ok=true} for a nil reply)
// or {ok=false, err="..."}; a transport failure of the batch is (nil, err).

// pipeRowCost is what one row is charged to the run's memory budget.
const pipeRowCost = 512

// pipeRow is one queued command and how its reply becomes a Lua value.
type pipeRow struct {
	cmd  redis.Cmder
	conv func(r *scriptRun, L *glua.LState) glua.LValue
	// script is set for run_script rows (their reply is converted as
	// redis_run_script's), retried after NOSCRIPT.
	script     *redisScript
	keys       []string
	scriptArgs []any
}

// rowArgs reads one row's positional arguments (index 2 on).
type rowArgs struct {
	t    *glua.LTable
	name string
	err  error
}

func (a *rowArgs) str(i int) string {
	v := a.t.RawGetInt(i)
	switch v.(type) {
	case glua.LString, glua.LNumber, glua.LBool:
		return redisArg(v)
	}
	if a.err == nil {
		a.err = fmt.Errorf("pipeline command %s: argument %d must be a string or number", a.name, i-1)
	}
	return ""
}

func (a *rowArgs) num(i int) float64 {
	switch v := a.t.RawGetInt(i).(type) {
	case glua.LNumber:
		return float64(v)
	case glua.LString:
		if f, err := strconv.ParseFloat(strings.TrimSpace(string(v)), 64); err == nil {
			return f
		}
	}
	if a.err == nil {
		a.err = fmt.Errorf("pipeline command %s: argument %d must be a number", a.name, i-1)
	}
	return 0
}

// list is the values from index i on: variadic, or one table.
func (a *rowArgs) list(i int) []any {
	if t, ok := a.t.RawGetInt(i).(*glua.LTable); ok && a.t.Len() == i {
		return a.table(t)
	}
	out := []any{}
	for j := i; j <= a.t.Len(); j++ {
		out = append(out, a.str(j))
	}
	return out
}

// table is a table argument's values (at most maxRedisArgs).
func (a *rowArgs) table(t *glua.LTable) []any {
	if t.Len() > maxRedisArgs {
		if a.err == nil {
			a.err = fmt.Errorf("pipeline command %s: a table of %d values; at most %d are sent in one command", a.name, t.Len(), maxRedisArgs)
		}
		return nil
	}
	out := make([]any, 0, t.Len())
	for i := 1; i <= t.Len(); i++ {
		out = append(out, redisArg(t.RawGetInt(i)))
	}
	return out
}

// opt reports whether index i is present.
func (a *rowArgs) opt(i int) bool { return a.t.RawGetInt(i) != glua.LNil }

type pipeBuilder func(p redis.Pipeliner, ctx ctxT, a *rowArgs) (redis.Cmder, func(r *scriptRun, L *glua.LState) glua.LValue)

func rowInt(c *redis.IntCmd) func(*scriptRun, *glua.LState) glua.LValue {
	return func(*scriptRun, *glua.LState) glua.LValue { return glua.LNumber(c.Val()) }
}
func rowBool(c *redis.BoolCmd) func(*scriptRun, *glua.LState) glua.LValue {
	return func(*scriptRun, *glua.LState) glua.LValue { return glua.LBool(c.Val()) }
}
func rowFloat(c *redis.FloatCmd) func(*scriptRun, *glua.LState) glua.LValue {
	return func(*scriptRun, *glua.LState) glua.LValue { return glua.LNumber(c.Val()) }
}
func rowString(c interface{ Val() string }) func(*scriptRun, *glua.LState) glua.LValue {
	return func(r *scriptRun, L *glua.LState) glua.LValue { return luaString(r, L, c.Val()) }
}
func rowStrings(c *redis.StringSliceCmd) func(*scriptRun, *glua.LState) glua.LValue {
	return func(r *scriptRun, L *glua.LState) glua.LValue { return luaStrings(r, L, c.Val()) }
}

// rowPositional is mget/hmget in a pipeline: a positional array, missing
// entries left as holes (unlike the top-level functions).
func rowPositional(c *redis.SliceCmd) func(*scriptRun, *glua.LState) glua.LValue {
	return func(r *scriptRun, L *glua.LState) glua.LValue {
		vals := c.Val()
		size := 0
		for _, v := range vals {
			if s, ok := v.(string); ok {
				size += len(s)
			}
		}
		chargeReply(r, L, size, len(vals))
		t := L.CreateTable(len(vals), 0)
		for i, v := range vals {
			if s, ok := v.(string); ok {
				t.RawSetInt(i+1, glua.LString(s))
			}
		}
		return t
	}
}

var pipeCommands = map[string]pipeBuilder{
	"ping": func(p redis.Pipeliner, ctx ctxT, _ *rowArgs) (redis.Cmder, func(*scriptRun, *glua.LState) glua.LValue) {
		c := p.Ping(ctx)
		return c, rowString(c)
	},
	"get": func(p redis.Pipeliner, ctx ctxT, a *rowArgs) (redis.Cmder, func(*scriptRun, *glua.LState) glua.LValue) {
		c := p.Get(ctx, a.str(2))
		return c, rowString(c)
	},
	"set": func(p redis.Pipeliner, ctx ctxT, a *rowArgs) (redis.Cmder, func(*scriptRun, *glua.LState) glua.LValue) {
		ttl := 0.0
		if a.opt(4) {
			ttl = a.num(4)
		}
		if ttl < 0 && a.err == nil {
			a.err = errors.New("expiration seconds must be >= 0")
		}
		c := p.Set(ctx, a.str(2), a.str(3), seconds(glua.LNumber(max(ttl, 0))))
		return c, rowString(c)
	},
	"incr":   keyRow(redis.Pipeliner.Incr),
	"del":    keyRow(func(p redis.Pipeliner, ctx ctxT, k string) *redis.IntCmd { return p.Del(ctx, k) }),
	"exists": keyRow(func(p redis.Pipeliner, ctx ctxT, k string) *redis.IntCmd { return p.Exists(ctx, k) }),
	"expire": func(p redis.Pipeliner, ctx ctxT, a *rowArgs) (redis.Cmder, func(*scriptRun, *glua.LState) glua.LValue) {
		c := p.Expire(ctx, a.str(2), seconds(glua.LNumber(a.num(3))))
		return c, rowBool(c)
	},
	"rename": func(p redis.Pipeliner, ctx ctxT, a *rowArgs) (redis.Cmder, func(*scriptRun, *glua.LState) glua.LValue) {
		c := p.Rename(ctx, a.str(2), a.str(3))
		return c, rowString(c)
	},
	"mget": func(p redis.Pipeliner, ctx ctxT, a *rowArgs) (redis.Cmder, func(*scriptRun, *glua.LState) glua.LValue) {
		c := p.MGet(ctx, argStrings(a.list(2))...)
		return c, rowPositional(c)
	},
	"mset": func(p redis.Pipeliner, ctx ctxT, a *rowArgs) (redis.Cmder, func(*scriptRun, *glua.LState) glua.LValue) {
		args := a.list(2)
		if len(args) == 0 || len(args)%2 != 0 {
			a.err = errRedisArity
		}
		c := p.MSet(ctx, args...)
		return c, rowString(c)
	},
	"keys": func(p redis.Pipeliner, ctx ctxT, a *rowArgs) (redis.Cmder, func(*scriptRun, *glua.LState) glua.LValue) {
		c := p.Keys(ctx, a.str(2))
		return c, rowStrings(c)
	},
	"scan": func(p redis.Pipeliner, ctx ctxT, a *rowArgs) (redis.Cmder, func(*scriptRun, *glua.LState) glua.LValue) {
		match, count := "*", int64(10)
		if a.opt(3) {
			match = a.str(3)
		}
		if a.opt(4) {
			count = int64(a.num(4))
		}
		c := p.Scan(ctx, uint64(max(a.num(2), 0)), match, count)
		return c, func(r *scriptRun, L *glua.LState) glua.LValue { return scanReply(r, L, c) }
	},
}

// keyRow is a row of one key giving a number.
func keyRow(call func(p redis.Pipeliner, ctx ctxT, key string) *redis.IntCmd) pipeBuilder {
	return func(p redis.Pipeliner, ctx ctxT, a *rowArgs) (redis.Cmder, func(*scriptRun, *glua.LState) glua.LValue) {
		c := call(p, ctx, a.str(2))
		return c, rowInt(c)
	}
}

func redisPipeline(r *scriptRun, L *glua.LState) int {
	mode, rows := L.CheckString(2), L.CheckTable(3)
	conn, err := redisHandle(r, L)
	if err != nil {
		return pushRedis(r, L, nil, err)
	}
	c := conn.write
	if mode == "read" {
		c = conn.read
	}
	// A queued command costs the daemon a few hundred bytes however small
	// its row is in Lua (a million references to one row table).
	n := 0
	for rows.RawGetInt(n+1) != glua.LNil {
		n++
	}
	r.vm().chargeRetained(L, int64(n)*pipeRowCost)
	pipe := c.Pipeline()
	queued, err := r.queueRows(pipe, rows)
	if err != nil {
		return pushRedis(r, L, nil, err)
	}
	if len(queued) == 0 {
		return pushRedis(r, L, L.NewTable(), nil)
	}
	err = redisWait(r, conn, func(ctx ctxT) error {
		_, err := pipe.Exec(ctx)
		return err
	})
	if err != nil && !isReplyError(err) {
		return pushRedis(r, L, nil, err) // transport failure (or the run ended)
	}
	r.retryNoScript(conn, queued)
	out := L.CreateTable(len(queued), 0)
	for _, row := range queued {
		out.Append(r.rowResult(L, row))
	}
	return pushRedis(r, L, out, nil)
}

// isReplyError reports whether err is a Redis error reply (a row's own
// failure, WRONGTYPE, redis: nil) rather than a broken connection.
func isReplyError(err error) bool {
	var re redis.Error
	return errors.As(err, &re)
}

// queueRows checks every row and queues it; nothing is sent yet.
func (r *scriptRun) queueRows(pipe redis.Pipeliner, rows *glua.LTable) ([]pipeRow, error) {
	var queued []pipeRow
	for i := 1; ; i++ {
		v := rows.RawGetInt(i)
		if v == glua.LNil {
			break
		}
		t, ok := v.(*glua.LTable)
		if !ok {
			return nil, fmt.Errorf("pipeline command at index %d must be a table", i)
		}
		name := strings.ToLower(redisArg(t.RawGetInt(1)))
		a := &rowArgs{t: t, name: printableName(name)}
		if name == "run_script" {
			row, err := r.scriptRow(pipe, a)
			if err != nil {
				return nil, err
			}
			queued = append(queued, row)
			continue
		}
		build, ok := pipeCommands[name]
		if !ok {
			build, ok = pipeMoreCommands[name]
		}
		if !ok {
			return nil, fmt.Errorf("unsupported pipeline command: %s", printableName(name))
		}
		cmd, conv := build(pipe, r.ctx, a)
		if a.err != nil {
			return nil, a.err
		}
		queued = append(queued, pipeRow{cmd: cmd, conv: conv})
	}
	return queued, nil
}

// scriptRow is `run_script name {keys} {args}`; the name must have been
// uploaded with redis_upload_script.
func (r *scriptRun) scriptRow(pipe redis.Pipeliner, a *rowArgs) (pipeRow, error) {
	name := a.str(2)
	sc, ok := redisState(r.engine.host).script(name)
	if !ok {
		return pipeRow{}, fmt.Errorf("could not find script with name %s", printableName(name))
	}
	var keys []string
	var args []any
	if t, ok := a.t.RawGetInt(3).(*glua.LTable); ok {
		keys = argStrings(a.table(t))
	}
	if t, ok := a.t.RawGetInt(4).(*glua.LTable); ok {
		args = a.table(t)
	}
	if a.err != nil {
		return pipeRow{}, a.err
	}
	cmd := pipe.EvalSha(r.ctx, sc.sha, keys, args...)
	return pipeRow{cmd: cmd, script: &sc, keys: keys, scriptArgs: args}, nil
}

// retryNoScript uploads a script Redis lost and runs its rows again, one
// by one (rare: after SCRIPT FLUSH or a restart).
func (r *scriptRun) retryNoScript(conn *redisConn, rows []pipeRow) {
	for i := range rows {
		row := &rows[i]
		if row.script == nil || !isNoScript(row.cmd.Err()) {
			continue
		}
		if cmd, err := r.evalSha(conn, *row.script, row.keys, row.scriptArgs); cmd != nil || err != nil {
			if cmd == nil {
				cmd = redis.NewCmd(r.ctx)
				cmd.SetErr(err)
			}
			row.cmd = cmd
		}
	}
}

// rowResult is {ok=true, value=v}, {ok=true} for a nil reply, or
// {ok=false, err="..."}.
func (r *scriptRun) rowResult(L *glua.LState, row pipeRow) *glua.LTable {
	err := row.cmd.Err()
	raiseIfRefused(r, L, refusedReply(row.cmd, err, r.engine.maxMemory))
	t := L.CreateTable(0, 2)
	var value glua.LValue
	if err == nil {
		if row.script != nil {
			value, err = redisReply(r, L, row.cmd.(*redis.Cmd).Val(), 0)
		} else {
			value = row.conv(r, L)
		}
	}
	switch {
	case errors.Is(err, redis.Nil):
		t.RawSetString("ok", glua.LTrue)
	case err != nil:
		t.RawSetString("ok", glua.LFalse)
		t.RawSetString("err", r.redisError(err))
	default:
		t.RawSetString("ok", glua.LTrue)
		t.RawSetString("value", value)
	}
	return t
}
