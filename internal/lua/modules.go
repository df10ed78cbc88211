package lua

import (
	"sync"

	glua "github.com/yuin/gopher-lua"
)

// Every require-able module beyond the core ones (vm.go's coreModules) is
// described by a module value that its own file registers from init():
// one file per nauthilus_* module, none of them touching the state set-up.
//
// Nauthilus binds request-bound modules afresh for every run, so a
// top-level `local r = require("nauthilus_redis")` sees the current
// request even on a pooled state (spec nauthilus-lua-modules §2.1). Here
// every module is a per-run proxy over a table made once per state; its
// functions are runFuncs, which read the run being served when called, so
// capturing the module in an upvalue never captures a request.
type module struct {
	// Name is what require and the run's globals know it by.
	Name string
	// Aliases are further names of the same module (json for nauthilus_json).
	Aliases []string
	// Filter and Password say in which script kinds the module is bound.
	// Elsewhere require gives the placeholder: an empty table (calls fail
	// with "attempt to call a nil value"), or, with Placeholder set, a
	// table whose functions raise that error text.
	Filter, Password bool
	Placeholder      string
	// Functions see the current run.
	Functions map[string]runFunc
	// Setup adds what is not a per-run function (constants, userdata
	// constructors) to the module table, once per state.
	Setup func(v *vm, t *glua.LTable)
	// NotGlobal keeps the module out of the run's globals: it is found
	// only through require (Lua libraries such as nauthilus_keys).
	NotGlobal bool
	// Methods lists the methods of the objects the functions return
	// ("handle:query"), for the coverage table and the corpus test.
	Methods []string
}

var registeredModules []module

// registerModule is called from init(); names must be unique.
func registerModule(m module) {
	for _, have := range registeredModules {
		if have.Name == m.Name {
			panic("lua: module registered twice: " + m.Name)
		}
	}
	registeredModules = append(registeredModules, m)
}

// boundModule is one name a run sees in package.loaded (and, unless
// NotGlobal, as a global), with the proxy metatable per script kind.
type boundModule struct {
	name      string
	notGlobal bool
}

// requestModules lists the core modules then every registered one (and
// aliases), in a fixed order: reuse.go keeps one proxy table per entry.
var requestModules = sync.OnceValue(func() []boundModule {
	out := make([]boundModule, 0, len(coreModules)+len(registeredModules))
	for _, name := range coreModules {
		out = append(out, boundModule{name: name})
	}
	for _, m := range registeredModules {
		for _, name := range append([]string{m.Name}, m.Aliases...) {
			out = append(out, boundModule{name: name, notGlobal: m.NotGlobal})
		}
	}
	return out
})

// addRegisteredModules builds each registered module's table on this state
// and its proxy metatable per script kind.
func (v *vm) addRegisteredModules() {
	empty := v.proxyMeta(v.L.CreateTable(0, 0))
	for _, m := range registeredModules {
		t := v.moduleTable(v.functions(m.Functions))
		if m.Setup != nil {
			m.Setup(v, t)
		}
		meta := v.proxyMeta(t)
		placeholder := empty
		if m.Placeholder != "" {
			placeholder = v.proxyMeta(v.raisingTable(m.Functions, m.Placeholder))
		}
		for _, name := range append([]string{m.Name}, m.Aliases...) {
			v.filterModules[name], v.passwordModules[name] = placeholder, placeholder
			if m.Filter {
				v.filterModules[name] = meta
			}
			if m.Password {
				v.passwordModules[name] = meta
			}
		}
	}
}

// raisingTable has the module's function names, each raising text.
func (v *vm) raisingTable(fns map[string]runFunc, text string) *glua.LTable {
	t := v.L.CreateTable(0, len(fns))
	raise := v.L.NewFunction(func(L *glua.LState) int {
		L.RaiseError("%s", text)
		return 0
	})
	for name := range fns {
		t.RawSetString(name, raise)
	}
	return t
}

// notImplemented lists the module functions that exist only to raise a
// clear error, with why (for the coverage table in docs/nauthilus.md);
// filled while the modules' function tables are built, in init.
var notImplemented = map[string]string{}

// unsupported is a module function backline does not implement: calling it
// raises a Lua error naming it, never a silent nil.
func unsupported(module, name string) runFunc {
	notImplemented[module+"."+name] = "not supported (raises)"
	return func(_ *scriptRun, L *glua.LState) int {
		L.RaiseError("%s.%s is not supported by backline", module, name)
		return 0
	}
}
