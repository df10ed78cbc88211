package lua

import (
	"maps"
	"time"

	glua "github.com/yuin/gopher-lua"
)

// vm is one pooled Lua state with the request-bound modules made once. Each
// run sees them through empty proxy tables (reads fall through, writes stay
// in the proxy, which is emptied after the run), so a script that
// overwrites nauthilus_backend.select_backend_server changes nothing for
// the next request. Building the module tables per run instead cost a
// quarter of a run (see BenchmarkRunFilterBaseline); the proxies, the
// environment and the request table are kept per state too (reuse.go).
type vm struct {
	L *glua.LState
	// run is the script run being served; the prebuilt functions read it.
	run *scriptRun

	globals *glua.LTable
	loaded  *glua.LTable // package.loaded
	envMeta *glua.LTable // {__index = globals}
	pkgPath string
	// pkg is the package table; pkgPathValue is pkgPath as a Lua value.
	pkg          *glua.LTable
	pkgPathValue glua.LValue
	// env is the running script's environment (nil between runs); code
	// loaded by loadfile, dofile, load and loadstring runs in it.
	env *glua.LTable

	// Tables kept from run to run and emptied after each (reuse.go): the
	// environment, one proxy per request module plus nauthilus_builtin,
	// the request table and its logging subtable.
	envTable     *reusedTable
	proxyTables  []*reusedTable
	requestTable *reusedTable
	// requestKeys are the keys table() set in the request table this run.
	requestKeys []string
	// boxed are the request table's last string values by field (see
	// Request.table): converting a string to an LValue allocates.
	boxed [boxedFields]glua.LValue
	// runBase is where a run's environment falls through to; it holds the
	// names every run sees (reuse.go). baseStale asks bind to rewrite them.
	runBase      *glua.LTable
	baseStale    bool
	loggingTable *reusedTable
	scratch      tableScratch
	chunks       map[*script]*glua.LFunction
	runCtx       runContext
	// servers are get_backend_servers' objects (backend_cache.go).
	servers serverCache
	// mustache is the template module's engine (template.go).
	mustache *glua.LUserData
	// watchTimer starts the watchdog when a run lasts (watchdog.go).
	watchTimer *time.Timer

	// proxyMeta holds the {__index = module} metatable of each module.
	// initModules are passwordModules without the request-bound ones
	// (spec nauthilus-lua-modules, "Where each module is bound", init).
	filterModules, passwordModules, initModules map[string]*glua.LTable
	builtinMeta                                 *glua.LTable

	serverMeta  *glua.LTable
	requestMeta *glua.LTable
	resultMeta  *glua.LTable

	// patternCheck stops a pattern match once the run's context is done
	// (pattern.go).
	patternCheck func() error

	// jobs feeds the state's own goroutine (see serve); closed with the
	// state. done carries a finished run's result back (buffered: the
	// state's goroutine never waits for its caller).
	jobs chan *scriptRun
	done chan jobResult

	// frozen maps each read-only proxy of a shared table to it (shared.go).
	frozen map[*glua.LTable]frozen
	// otelMeta are nauthilus_opentelemetry's tracer and span metatables.
	otelMeta map[string]*glua.LTable
	// dbMeta are the db module's handle and statement metatables.
	dbMeta map[string]*glua.LTable
	// fileModules are the package.loaded names require filled from files
	// in this run (dropped by unbind); moduleProtos caches their code.
	fileModules  []string
	moduleProtos map[string]*glua.FunctionProto
}

// coreModules are bound to a run and placed both in package.loaded and as
// globals of the run's environment (contract §1.5); the other modules are
// registered by their own files (modules.go) and follow them.
// backend_result is the 1.0-1.2 name of nauthilus_backend_result (their
// filters call backend_result.new()), json the gopher-lua-libs name of
// nauthilus_json.
var coreModules = []string{"nauthilus_backend", "nauthilus_backend_result", "backend_result", "nauthilus_util", "nauthilus_json", "json"}

func (e *Engine) newVM() *vm {
	L := glua.NewState(glua.Options{SkipOpenLibs: true})
	v := &vm{L: L}
	openSafeLibs(L)
	v.globals = L.G.Global
	v.loaded = L.GetField(L.Get(glua.RegistryIndex), "_LOADED").(*glua.LTable)
	v.envMeta = L.CreateTable(0, 1)
	v.envMeta.RawSetString("__index", v.globals)
	v.pkgPath = e.cfg.Config.PackagePath
	v.pkgPathValue = glua.LString(v.pkgPath)
	v.pkg, _ = v.globals.RawGetString("package").(*glua.LTable)
	v.installSandbox(e)
	v.installBudget()
	v.installCoroutineHooks()
	for name, fn := range e.testGlobals {
		L.SetGlobal(name, L.NewFunction(fn))
	}
	v.jobs = make(chan *scriptRun)
	v.done = make(chan jobResult, 1)
	go v.serve(e)

	logger := e.logger
	L.SetGlobal("dynamic_loader", L.NewFunction(func(L *glua.LState) int {
		// Modules are always available; kept so pre-1.10 scripts (seed 001) run.
		logger.Debug("Lua dynamic_loader called (no-op)", "module", L.OptString(1, ""))
		return 0
	}))

	shared := map[string]*glua.LTable{
		"nauthilus_backend_result": v.proxyMeta(v.moduleTable(v.functions(resultModuleFunctions))),
		"nauthilus_util":           v.proxyMeta(v.moduleTable(v.functions(utilFunctions))),
		"nauthilus_json":           v.proxyMeta(v.moduleTable(v.functions(jsonFunctions))),
	}
	shared["json"] = shared["nauthilus_json"]
	shared["backend_result"] = shared["nauthilus_backend_result"]
	v.filterModules, v.passwordModules = maps.Clone(shared), maps.Clone(shared)
	v.filterModules["nauthilus_backend"] = v.proxyMeta(v.moduleTable(v.functions(backendFunctions)))
	v.passwordModules["nauthilus_backend"] = v.proxyMeta(v.moduleTable(v.functions(passwordBackendFunctions())))
	v.addRegisteredModules()
	v.initModules = maps.Clone(v.passwordModules)
	empty := v.proxyMeta(v.L.CreateTable(0, 0))
	for _, name := range initPlaceholders {
		v.initModules[name] = empty
	}
	v.builtinMeta = v.proxyMeta(v.builtinTable(v.functions(builtinFunctions)))
	v.serverMeta = v.newServerMeta()
	v.requestMeta = newRequestMeta(v.L, e.redisPrefix())
	v.resultMeta = v.newResultMeta()
	v.envTable = newReusedTable(16)
	for range len(requestModules()) + 1 {
		v.proxyTables = append(v.proxyTables, newReusedTable(0))
	}
	v.requestTable = newReusedTable(24)
	v.loggingTable = newReusedTable(2)
	v.chunks = map[*script]*glua.LFunction{}
	v.freezeShared()
	v.installRunBase()
	return v
}

// runFunc is a module function that needs the current run.
type runFunc func(r *scriptRun, L *glua.LState) int

func (v *vm) functions(defs map[string]runFunc) map[string]*glua.LFunction {
	out := make(map[string]*glua.LFunction, len(defs))
	for name, f := range defs {
		out[name] = v.L.NewFunction(func(L *glua.LState) int {
			if v.run == nil {
				L.RaiseError("%s called outside a request", name)
			}
			return f(v.run, L)
		})
	}
	return out
}

func (v *vm) moduleTable(fns map[string]*glua.LFunction) *glua.LTable {
	t := v.L.CreateTable(0, len(fns))
	for name, f := range fns {
		t.RawSetString(name, f)
	}
	return t
}

// bind prepares the state for run: an empty environment whose misses fall
// through to the pristine globals, and empty request-bound module proxies.
func (v *vm) bind(r *scriptRun) *glua.LTable {
	v.run = r
	r.state = v
	if v.baseStale {
		v.fillRunBase()
	}
	env := v.envTable.t
	v.env = env
	env.Metatable = v.envMeta

	modules := v.filterModules
	switch r.kind {
	case kindPassword:
		modules = v.passwordModules
	case kindInit:
		modules = v.initModules
	}
	bound := requestModules()
	for i, m := range bound {
		v.proxyTables[i].t.Metatable = modules[m.name]
	}
	v.proxyTables[len(bound)].t.Metatable = v.builtinMeta

	// package.path may have been changed by the last run (see
	// freezeShared); set it back only then: a store is an allocation.
	if v.pkg != nil && v.pkg.RawGetString("path") != v.pkgPathValue {
		v.pkg.RawSetString("path", v.pkgPathValue)
	}
	return env
}

// unbind drops everything that refers to the finished run and empties the
// tables the next run gets: nothing a run stored survives it.
func (v *vm) unbind() {
	v.forgetFileModules()
	v.run = nil
	v.env = nil
	v.L.SetTop(0)
	v.L.RemoveContext()
	v.runCtx = runContext{}
	v.resetRunTables()
}

// maxCachedChunks bounds the main functions a state keeps (one per script).
const maxCachedChunks = 256

// chunk is the script's main function on this state. It is made once; its
// environment is set again for every run, as a script may have changed it
// with setfenv.
func (v *vm) chunk(s *script, env *glua.LTable) *glua.LFunction {
	fn, ok := v.chunks[s]
	if !ok {
		if len(v.chunks) >= maxCachedChunks {
			clear(v.chunks) // scripts replaced by a reload
		}
		fn = v.L.NewFunctionFromProto(s.proto)
		v.chunks[s] = fn
	}
	fn.Env = env
	return fn
}

// passwordBackendFunctions keeps what a password script may use: looking,
// not routing. The routing functions raise a clear error instead of the
// "attempt to call a nil value" Nauthilus gives.
func passwordBackendFunctions() map[string]runFunc {
	out := map[string]runFunc{}
	for name, f := range backendFunctions {
		switch name {
		case "get_backend_servers", "get_backend_servers_status", "check_backend_connection":
			out[name] = f
		default:
			out[name] = func(_ *scriptRun, L *glua.LState) int {
				L.RaiseError("nauthilus_backend.%s is only available in filters, not in password scripts", name)
				return 0
			}
		}
	}
	return out
}

// proxyMeta makes the metatable of a module's per-run proxies. __metatable
// hides it from getmetatable, so scripts cannot reach the shared table.
func (v *vm) proxyMeta(module *glua.LTable) *glua.LTable {
	mt := v.L.CreateTable(0, 2)
	mt.RawSetString("__index", module)
	mt.RawSetString("__metatable", glua.LFalse)
	return mt
}

func (v *vm) builtinTable(fns map[string]*glua.LFunction) *glua.LTable {
	t := v.L.CreateTable(0, 16)
	for _, prefix := range []string{"FILTER", "SUBJECT"} {
		t.RawSetString(prefix+"_ACCEPT", glua.LFalse)
		t.RawSetString(prefix+"_REJECT", glua.LTrue)
		t.RawSetString(prefix+"_RESULT_OK", glua.LNumber(0))
		t.RawSetString(prefix+"_RESULT_FAIL", glua.LNumber(1))
	}
	t.RawSetString("BACKEND_RESULT_OK", glua.LNumber(BackendResultOK))
	t.RawSetString("BACKEND_RESULT_FAIL", glua.LNumber(BackendResultFail))
	t.RawSetString("BACKEND_RESULT_ERROR", glua.LNumber(BackendResultError))
	for name, f := range fns {
		t.RawSetString(name, f)
	}
	return t
}

// openSafeLibs opens what scripts need and nothing that can end or stall the
// daemon: no io, no debug, and only the harmless part of os. installSandbox
// then confines what is left (getenv, file loading).
func openSafeLibs(L *glua.LState) {
	for _, lib := range []struct {
		name string
		open glua.LGFunction
	}{
		{glua.LoadLibName, glua.OpenPackage},
		{glua.BaseLibName, glua.OpenBase},
		{glua.TabLibName, glua.OpenTable},
		{glua.StringLibName, glua.OpenString},
		{glua.MathLibName, glua.OpenMath},
		{glua.CoroutineLibName, glua.OpenCoroutine},
		{glua.OsLibName, glua.OpenOs},
	} {
		L.Push(L.NewFunction(lib.open))
		L.Push(glua.LString(lib.name))
		L.Call(1, 0)
	}
	full := L.GetGlobal("os").(*glua.LTable)
	safe := L.CreateTable(0, 5)
	for _, name := range []string{"time", "date", "clock", "getenv", "difftime"} {
		safe.RawSetString(name, full.RawGetString(name))
	}
	L.SetGlobal("os", safe)
	loaded := L.GetField(L.Get(glua.RegistryIndex), "_LOADED").(*glua.LTable)
	loaded.RawSetString("os", safe)
}

// jobResult is what a run hands back to its caller.
type jobResult struct {
	run        *scriptRun
	ret1, ret2 glua.LValue
	err        error
}

// serve runs the state's jobs on one long-lived goroutine, so its stack,
// grown once by gopher-lua, is not grown again for every run. It ends when
// the state is closed.
//
// A run that ended in time hands its result over r.done. A lone run's
// caller, once it has the result, returns the state to the pool: releasing
// it here first would let the next caller of the state take the result
// from the state's channel. Parallel runs (releaseHere) report on their
// request's own channel, and their state is released here: their caller
// may be waiting for another state meanwhile. A run its caller
// gave up on is never reused; it is closed here.
func (v *vm) serve(e *Engine) {
	for r := range v.jobs {
		// Registered here, not before the hand-off: the run's clock starts
		// when the script can run (and allocate).
		e.watch.add(r, v)
		ret1, ret2, err := v.execute(r, r.entries)
		e.watch.remove(r, v)
		if r.phase.CompareAndSwap(runActive, runFinished) {
			if r.releaseHere {
				e.pool.release(v, err != nil)
			}
			r.done <- jobResult{r, ret1, ret2, err}
		} else {
			e.pool.release(v, true)
			e.abandonedRunning.Add(-1)
		}
		e.inflight.Done()
	}
}

// close frees the state and ends its goroutine.
func (v *vm) close() {
	if v.watchTimer != nil {
		v.watchTimer.Stop()
	}
	v.L.Close()
	close(v.jobs)
}
