package lua

import (
	glua "github.com/yuin/gopher-lua"
)

// The 1.0-era global table `nauthilus` (spec nauthilus-lua-modules §3.1).
// Before v1.3 Nauthilus had no modules to require: a table `nauthilus`
// was installed before each run with the result constants and every
// function a script could call; v1.3 moved the functions into modules.
//
// Here it is a per-run global (a module of the registry, so a top-level
// `local n = nauthilus` on a pooled state still sees the current request)
// whose functions are aliases: each looks up the module function of the
// current run when called and passes its arguments on. An alias whose
// module is not part of this backline (or not bound in this kind of
// script) raises an error naming both names, never a silent nil.
//
// Differences from the modules, as 1.0 scripts expect them:
//   - Redis calls take no handle; they use the "default" connection.
//   - The v1.0 string calls (redis_get_str, redis_set_str, redis_incr,
//     redis_del, redis_expire) return one value on success, and nil plus
//     the error text (such as "redis: nil") on failure.

// legacyAlias is one function of the 1.0 table.
type legacyAlias struct {
	module, fn string
	// handle: insert the connection name "default" as the first argument.
	handle bool
	// oneValue: on success return only the first value (v1.0 redis_*_str).
	oneValue bool
}

// legacyAliases is the 1.0-1.2 table: v1.0 names, v1.2 additions.
var legacyAliases = func() map[string]legacyAlias {
	m := map[string]legacyAlias{
		"context_set":    {module: "nauthilus_context", fn: "context_set"},
		"context_get":    {module: "nauthilus_context", fn: "context_get"},
		"context_delete": {module: "nauthilus_context", fn: "context_delete"},

		"get_all_http_request_headers": {module: "nauthilus_http_request", fn: "get_all_http_request_headers"},
		"get_http_request_header":      {module: "nauthilus_http_request", fn: "get_http_request_header"},
		"get_http_request_body":        {module: "nauthilus_http_request", fn: "get_http_request_body"},

		// v1.0: no handle, one value on success.
		"redis_get_str": {module: "nauthilus_redis", fn: "redis_get", handle: true, oneValue: true},
		"redis_set_str": {module: "nauthilus_redis", fn: "redis_set", handle: true, oneValue: true},

		"get_backend_servers":        {module: "nauthilus_backend", fn: "get_backend_servers"},
		"select_backend_server":      {module: "nauthilus_backend", fn: "select_backend_server"},
		"check_backend_connection":   {module: "nauthilus_backend", fn: "check_backend_connection"},
		"apply_backend_result":       {module: "nauthilus_backend", fn: "apply_backend_result"},
		"remove_from_backend_result": {module: "nauthilus_backend", fn: "remove_from_backend_result"},

		// 1.0's nginx_monitoring names (its nginx.lua filter).
		"select_nginx_backend_server": {module: "nauthilus_backend", fn: "select_backend_server"},

		"send_mail":   {module: "nauthilus_mail", fn: "send_mail"},
		"ldap_search": {module: "nauthilus_ldap", fn: "ldap_search"},
	}
	// v1.0 names that v1.2 kept, with the v1.0 one-value convention.
	for _, fn := range []string{"redis_incr", "redis_del", "redis_expire"} {
		m[fn] = legacyAlias{module: "nauthilus_redis", fn: fn, handle: true, oneValue: true}
	}
	// v1.2's handle-less calls, returning what the module returns.
	for _, fn := range []string{"redis_get", "redis_set", "redis_rename",
		"redis_hget", "redis_hset", "redis_hdel", "redis_hlen", "redis_hgetall",
		"redis_hincrby", "redis_hincrbyfloat", "redis_hexists",
		"redis_sadd", "redis_sismember", "redis_smembers", "redis_srem", "redis_scard"} {
		m[fn] = legacyAlias{module: "nauthilus_redis", fn: fn, handle: true}
	}
	return m
}()

func init() {
	fns := make(map[string]runFunc, len(legacyAliases)+2)
	for name, a := range legacyAliases {
		fns[name] = legacyAliasFunc("nauthilus", name, a)
		if a.module == "nauthilus_ldap" {
			// backline has no LDAP: the alias always raises, naming it.
			notImplemented["nauthilus."+name] = "no nauthilus_ldap in backline (raises)"
		}
	}
	// These were the table's own functions; they are nauthilus_builtin's.
	fns["custom_log_add"] = builtinFunctions["custom_log_add"]
	fns["status_message_set"] = builtinFunctions["status_message_set"]
	fns["get_nginx_backend_servers"] = nginxBackendServers
	// v1.3 moved the functions into modules, but its shipped monitoring
	// filter still calls these four on nauthilus_builtin: the same
	// functions as the modules', bound where those are.
	for name, module := range map[string]string{
		"get_backend_servers":        "nauthilus_backend",
		"apply_backend_result":       "nauthilus_backend",
		"remove_from_backend_result": "nauthilus_backend",
		"get_http_request_header":    "nauthilus_http_request",
	} {
		builtinFunctions[name] = legacyAliasFunc("nauthilus_builtin", name, legacyAlias{module: module, fn: name})
	}
	registerModule(module{
		Name:      "nauthilus",
		Filter:    true,
		Password:  true,
		Functions: fns,
		Setup:     setLegacyConstants,
	})
}

// setLegacyConstants adds the result constants of every 1.0 script kind:
// flags are booleans, result codes 0 (ok) and 1 (fail), as in
// nauthilus_builtin (with its BACKEND_RESULT_ERROR, 2).
func setLegacyConstants(_ *vm, t *glua.LTable) {
	for name, v := range map[string]glua.LValue{
		"FILTER_ACCEPT": glua.LFalse, "FILTER_REJECT": glua.LTrue,
		"FILTER_RESULT_OK": glua.LNumber(0), "FILTER_RESULT_FAIL": glua.LNumber(1),
		"FEATURE_TRIGGER_NO": glua.LFalse, "FEATURE_TRIGGER_YES": glua.LTrue,
		"FEATURES_ABORT_NO": glua.LFalse, "FEATURES_ABORT_YES": glua.LTrue,
		"FEATURE_RESULT_OK": glua.LNumber(0), "FEATURE_RESULT_FAIL": glua.LNumber(1),
		"ACTION_RESULT_OK": glua.LNumber(0), "ACTION_RESULT_FAIL": glua.LNumber(1),
		"BACKEND_RESULT_OK": glua.LNumber(BackendResultOK), "BACKEND_RESULT_FAIL": glua.LNumber(BackendResultFail),
		"BACKEND_RESULT_ERROR": glua.LNumber(BackendResultError),
	} {
		t.RawSetString(name, v)
	}
}

// legacyAliasFunc calls a's module function of the current run; table is
// the name the script calls it through (nauthilus, nauthilus_builtin).
func legacyAliasFunc(table, name string, a legacyAlias) runFunc {
	return func(r *scriptRun, L *glua.LState) int {
		fn := runModuleFunction(r, L, a.module, a.fn)
		if fn == nil {
			L.RaiseError("%s.%s is not supported by backline here: %s.%s is not available in this script", table, name, a.module, a.fn)
		}
		nargs := L.GetTop()
		base := nargs // results start above the arguments
		L.Push(fn)
		if a.handle {
			L.Push(glua.LString("default"))
		}
		for i := 1; i <= nargs; i++ {
			L.Push(L.Get(i))
		}
		callArgs := nargs
		if a.handle {
			callArgs++
		}
		L.Call(callArgs, glua.MultRet)
		nret := L.GetTop() - base
		if !a.oneValue {
			return nret
		}
		first, errValue := L.Get(base+1), L.Get(base+2)
		if nret >= 2 && errValue != glua.LNil {
			L.Push(glua.LNil)
			L.Push(errValue)
			return 2
		}
		if nret == 0 {
			first = glua.LNil
		}
		L.Push(first)
		return 1
	}
}

// nginxBackendServers is 1.0's nauthilus.get_nginx_backend_servers: the
// servers of nauthilus_backend.get_backend_servers in 1.0's shape, a list
// of one-entry tables {[host] = port} (its nginx.lua reads them with
// pairs).
func nginxBackendServers(r *scriptRun, L *glua.LState) int {
	fn := runModuleFunction(r, L, "nauthilus_backend", "get_backend_servers")
	if fn == nil {
		L.RaiseError("nauthilus.get_nginx_backend_servers is not supported by backline here: nauthilus_backend.get_backend_servers is not available in this script")
	}
	L.Push(fn)
	L.Call(0, 1)
	servers, _ := L.Get(-1).(*glua.LTable)
	L.Pop(1)
	out := L.CreateTable(0, 0)
	if servers != nil {
		for i := 1; i <= servers.Len(); i++ {
			ud, ok := servers.RawGetInt(i).(*glua.LUserData)
			if !ok {
				continue
			}
			sv, ok := ud.Value.(*serverView)
			if !ok {
				continue
			}
			entry := L.CreateTable(0, 1)
			entry.RawSetString(sv.backend.Target.Host, glua.LNumber(sv.backend.Target.Port))
			out.Append(entry)
		}
	}
	L.Push(out)
	return 1
}

// runModuleFunction is module.fn as the current run sees it (the
// module's per-run proxy in package.loaded), nil when the module is not
// in this backline, not bound in this kind of script, or has no such
// function.
func runModuleFunction(r *scriptRun, L *glua.LState, module, fn string) *glua.LFunction {
	proxy, ok := r.state.loaded.RawGetString(module).(*glua.LTable)
	if !ok {
		return nil
	}
	f, _ := L.GetField(proxy, fn).(*glua.LFunction)
	return f
}

// legacyUsesRedis reports whether a compiled script calls a Redis function
// of the 1.0 table (nauthilus.redis_*), so that, like a script requiring
// nauthilus_redis, it can be refused at load when storage.redis is not
// configured instead of failing every login. It looks for the string
// constants "nauthilus" and one of the alias names anywhere in the script.
func legacyUsesRedis(p *glua.FunctionProto) bool {
	var global, redisCall bool
	var walk func(p *glua.FunctionProto)
	walk = func(p *glua.FunctionProto) {
		for _, c := range p.Constants {
			s, ok := c.(glua.LString)
			if !ok {
				continue
			}
			if s == "nauthilus" {
				global = true
			} else if a, ok := legacyAliases[string(s)]; ok && a.module == "nauthilus_redis" {
				redisCall = true
			}
		}
		for _, sub := range p.FunctionPrototypes {
			walk(sub)
		}
	}
	walk(p)
	return global && redisCall
}
