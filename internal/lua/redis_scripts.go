package lua

import (
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
	glua "github.com/yuin/gopher-lua"
)

// redis_upload_script and redis_run_script (§4.1.3). Named scripts are
// remembered process-wide (name -> sha1, source), so a script uploaded
// once runs by name on every later request, and a Redis that lost its
// script cache (SCRIPT FLUSH, a restart) gets it again on NOSCRIPT.

// redisUploadScript is redis_upload_script(h, source, name) -> sha1.
func redisUploadScript(r *scriptRun, L *glua.LState) int {
	source, name := L.CheckString(2), L.OptString(3, "")
	if len(source) > maxRedisScriptSource {
		return pushRedis(r, L, nil, fmt.Errorf("redis_upload_script: source longer than %d bytes", maxRedisScriptSource))
	}
	conn, err := redisHandle(r, L)
	if err != nil {
		return pushRedis(r, L, nil, err)
	}
	cmd, err := redisCall(r, conn, func(ctx ctxT) *redis.StringCmd { return conn.write.ScriptLoad(ctx, source) })
	if err != nil {
		return pushRedis(r, L, nil, err)
	}
	sha := cmd.Val()
	if name != "" {
		if err := redisState(r.engine.host).remember(name, redisScript{sha: sha, source: source}); err != nil {
			return pushRedis(r, L, nil, err)
		}
	}
	return pushRedis(r, L, glua.LString(sha), nil)
}

func (s *redisHost) remember(name string, sc redisScript) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, known := s.scripts[name]; !known && len(s.scripts) >= maxRedisScripts {
		return fmt.Errorf("redis_upload_script: at most %d named scripts", maxRedisScripts)
	}
	s.scripts[name] = sc
	return nil
}

func (s *redisHost) script(name string) (redisScript, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sc, ok := s.scripts[name]
	return sc, ok
}

// redisRunScript is redis_run_script(h, source, name, keys, args...): a
// non-empty name runs the remembered script by sha (source ignored),
// otherwise source runs with EVAL.
func redisRunScript(r *scriptRun, L *glua.LState) int {
	source, name := L.OptString(2, ""), L.OptString(3, "")
	keys := argStrings(tableArgsOf(L, L.CheckTable(4)))
	var args []any
	if t, ok := L.Get(5).(*glua.LTable); ok {
		args = tableArgsOf(L, t)
	} else {
		args = redisArgsFrom(L, 5)
	}
	conn, err := redisHandle(r, L)
	if err != nil {
		return pushRedis(r, L, nil, err)
	}
	var cmd *redis.Cmd
	if name != "" {
		sc, ok := redisState(r.engine.host).script(name)
		if !ok {
			return pushRedis(r, L, nil, fmt.Errorf("could not find script with name %s", printableName(name)))
		}
		cmd, err = r.evalSha(conn, sc, keys, args)
	} else {
		cmd, err = redisCall(r, conn, func(ctx ctxT) *redis.Cmd { return conn.write.Eval(ctx, source, keys, args...) })
	}
	if err != nil {
		return pushRedis(r, L, nil, err)
	}
	v, err := redisReply(r, L, cmd.Val(), 0)
	return pushRedis(r, L, v, err)
}

// evalSha runs a remembered script; on NOSCRIPT it uploads the source
// again and retries once.
func (r *scriptRun) evalSha(conn *redisConn, sc redisScript, keys []string, args []any) (*redis.Cmd, error) {
	cmd, err := redisCall(r, conn, func(ctx ctxT) *redis.Cmd { return conn.write.EvalSha(ctx, sc.sha, keys, args...) })
	if err == nil || !isNoScript(err) {
		return cmd, err
	}
	r.engine.logger.Warn("Redis did not know a Lua script; uploading it again", "script", r.script.name, "sha", sc.sha)
	if _, err := redisCall(r, conn, func(ctx ctxT) *redis.StringCmd { return conn.write.ScriptLoad(ctx, sc.source) }); err != nil {
		return nil, err
	}
	return redisCall(r, conn, func(ctx ctxT) *redis.Cmd { return conn.write.EvalSha(ctx, sc.sha, keys, args...) })
}

func isNoScript(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && strings.HasPrefix(err.Error(), "NOSCRIPT")
}

// tableArgsOf encodes an array table's values as command arguments;
// more than maxRedisArgs raise.
func tableArgsOf(L *glua.LState, t *glua.LTable) []any {
	n := t.Len()
	if n > maxRedisArgs {
		L.RaiseError("nauthilus_redis: a table of %d values; at most %d are sent in one command", n, maxRedisArgs)
	}
	out := make([]any, 0, n)
	for i := 1; i <= n; i++ {
		out = append(out, redisArg(t.RawGetInt(i)))
	}
	return out
}
