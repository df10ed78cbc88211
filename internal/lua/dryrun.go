package lua

import (
	"fmt"
	"net/http"
	"strings"

	glua "github.com/yuin/gopher-lua"
)

// Dry runs (Request.DryRun, set only by explain): the filters run as they
// would for a real login, so the selection they make is the real one, but
// no module function changes anything outside the run. Each module file
// marks its functions with an external effect by wrapping them in
// sideEffect; reads still read (a filter that looks a counter up sees the
// real counter). What a dry run skipped is listed in the run's suppressed
// names, which explain shows, because a filter may behave differently when
// its writes do nothing.
//
// A function with a harmless stand-in result (cache_set's "OK", a counter
// increment's nothing) returns that; one without (nauthilus_redis scripts)
// answers the way it answers a failure, naming itself and
// dryRunRefusal. Only the run's own state (nauthilus_context, the
// backend result, logs) is still written: the explain request's context
// is thrown away with it.

// dryRunRefusal ends the error text of a function a dry run does not run.
const dryRunRefusal = "not run in a dry run (explain)"

// maxSuppressed bounds the names one run records (a loop calling a write
// a million times is recorded once anyway: the names are distinct).
const maxSuppressed = 64

// sideEffect marks fn, the module function name ("module.function"), as
// having an effect outside the run. In a dry run fn is not called: dry is,
// and the name is recorded as suppressed. A nil dry raises a Lua error
// naming the function.
func sideEffect(name string, fn, dry runFunc) runFunc {
	effectNames[name] = true
	return func(r *scriptRun, L *glua.LState) int {
		if !r.dryRun() {
			return fn(r, L)
		}
		r.suppress(name)
		if dry == nil {
			L.RaiseError("%s: %s", name, dryRunRefusal)
			return 0
		}
		return dry(r, L)
	}
}

// effectNames are the functions marked with sideEffect (filled by the
// module files' init; read by tests).
var effectNames = map[string]bool{}

// dryReturns is a dry stand-in returning fixed values.
func dryReturns(values ...glua.LValue) runFunc {
	return func(_ *scriptRun, L *glua.LState) int {
		for _, v := range values {
			L.Push(v)
		}
		return len(values)
	}
}

// dryError is a dry stand-in for a function that reports failures as
// (nil, "error text"): the script takes its error path.
func dryError(name string) runFunc {
	return func(_ *scriptRun, L *glua.LState) int {
		return pushNilErr(L, name+": "+dryRunRefusal)
	}
}

func (r *scriptRun) dryRun() bool { return r.req != nil && r.req.DryRun }

// suppress records that the run skipped name's effect (once per name).
func (r *scriptRun) suppress(name string) {
	for _, have := range r.suppressed {
		if have == name {
			return
		}
	}
	if len(r.suppressed) < maxSuppressed {
		r.suppressed = append(r.suppressed, name)
	}
}

// dryRefused is the error a dry run gives a call that would have an
// effect (for functions whose effect depends on their arguments, such as
// glua_http's method); nil outside a dry run.
func (r *scriptRun) dryRefused(name string) error {
	if !r.dryRun() {
		return nil
	}
	r.suppress(name)
	return fmt.Errorf("%s: %s", name, dryRunRefusal)
}

// safeHTTPMethod: GET, HEAD and OPTIONS are read-only by definition (RFC
// 9110 §9.2.1), so a dry run sends them; everything else may change the
// server's state.
func safeHTTPMethod(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	}
	return false
}

// httpEffectName is the name a refused glua_http call is listed under.
func httpEffectName(method string) string {
	return "glua_http." + strings.ToLower(method)
}

// mergeSuppressed lists each filter's suppressed effects as
// "filter: module.function", in config order.
func mergeSuppressed(runs []*filterRun) []string {
	var out []string
	for _, fr := range runs {
		if fr == nil || fr.run == nil {
			continue // not started, or abandoned while running
		}
		for _, name := range fr.run.suppressed {
			out = append(out, fr.name+": "+name)
		}
	}
	return out
}

// markEffects wraps, in a module's function table, each function listed
// in effects with sideEffect; its value is the dry stand-in (nil: the
// call raises in a dry run). Each module file lists its own effects next
// to its functions.
func markEffects(module string, fns map[string]runFunc, effects map[string]runFunc) {
	for name, dry := range effects {
		fn, ok := fns[name]
		if !ok {
			panic("lua: " + module + "." + name + " is marked as a side effect but not defined")
		}
		fns[name] = sideEffect(module+"."+name, fn, dry)
	}
}
