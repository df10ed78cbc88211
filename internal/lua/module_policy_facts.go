package lua

import (
	"slices"
	"strconv"
	"strings"

	glua "github.com/yuin/gopher-lua"
)

// nauthilus_policy_facts (spec nauthilus-lua-modules §4.9; Nauthilus 3's
// guide "Lua Policy Plugins"): the helper Nauthilus's bundled filters, the
// newest backend monitoring filter among them, use to record what they
// found. In Nauthilus it is a Lua library in share/; here it is a module,
// so scripts find it without Nauthilus's share/ on package_path.
//
// Facts live in the request's nauthilus_context under "policy_facts", a
// table namespace -> key -> value, updated read-modify-write through
// nauthilus_context's own functions: a later filter, the password script
// and context_get("policy_facts") see them exactly as they would in
// Nauthilus (including the per-filter overlays of parallel filters).
//
//	set(ns, key, value)                 the fact only
//	set_public(ns, key, value)          fact + log field policy_fact_<ns>_<key>
//	set_public_log(ns, key, value)      the log field only
//	emit(ns, key, value[, details])     fact + policy attribute lua.plugin.<ns>.<key>
//	emit_public(ns, key, value[, details])  fact + attribute + log field
//	set_many / set_many_public / emit_many / emit_many_public (ns, {key = value, ...}[, details])
//	status_message(ns, message)         status_message_set(message) + fact and
//	                                    attribute <ns>.status_message
//
// Attributes go through nauthilus_policy's checks (module_policy.go) and
// are then dropped: backline has no policy engine. The library works in
// Lua password scripts too, where nauthilus_policy itself is not bound
// (Nauthilus's library loads its emitter lazily and skips it there): the
// facts are stored for the request's filters.

const policyFactsKey = "policy_facts"

// maxFactNameBytes bounds a namespace and a key: they become log field
// names (policy_fact_<ns>_<key>) and attribute ids, which a hostile script
// must not make arbitrarily long.
const maxFactNameBytes = 128

func init() {
	registerModule(module{
		Name:      "nauthilus_policy_facts",
		Filter:    true,
		Password:  true,
		NotGlobal: true,
		Functions: map[string]runFunc{
			"set":              factsSetter(factStore),
			"set_public":       factsSetter(factStore | factLog),
			"set_public_log":   factsSetter(factLog),
			"emit":             factsSetter(factStore | factEmit),
			"emit_public":      factsSetter(factStore | factEmit | factLog),
			"set_many":         factsManySetter(factStore),
			"set_many_public":  factsManySetter(factStore | factLog),
			"emit_many":        factsManySetter(factStore | factEmit),
			"emit_many_public": factsManySetter(factStore | factEmit | factLog),
			"status_message":   factsStatusMessage,
		},
	})
}

type factAction int

const (
	factStore factAction = 1 << iota // into the context's policy_facts
	factLog                          // custom log field policy_fact_<ns>_<key>
	factEmit                         // policy attribute lua.plugin.<ns>.<key>
)

// fact is one key and value of a namespace.
type fact struct {
	key   string
	value glua.LValue
}

// factsSetter is set/set_public/emit/...(ns, key, value[, details]).
func factsSetter(what factAction) runFunc {
	return func(r *scriptRun, L *glua.LState) int {
		ns, key := L.CheckString(1), L.CheckString(2)
		recordFacts(r, L, what, ns, []fact{{key, L.Get(3)}}, L.Get(4))
		return 0
	}
}

// factsManySetter is set_many/...(ns, {key = value, ...}[, details]).
func factsManySetter(what factAction) runFunc {
	return func(r *scriptRun, L *glua.LState) int {
		ns := L.CheckString(1)
		tbl := L.CheckTable(2)
		var facts []fact
		bad := ""
		tbl.ForEach(func(k, v glua.LValue) {
			switch k.(type) {
			case glua.LString, glua.LNumber:
				facts = append(facts, fact{k.String(), v})
			default:
				bad = k.Type().String()
			}
		})
		if bad != "" {
			L.RaiseError("nauthilus_policy_facts: fact keys must be strings, got a %s", bad)
		}
		if len(facts) > maxPolicyBatch {
			L.RaiseError("nauthilus_policy_facts: %d facts in one call, at most %d", len(facts), maxPolicyBatch)
		}
		// Sorted: log fields and errors come in the same order every run
		// (pairs order is not defined).
		sortFacts(facts)
		recordFacts(r, L, what, ns, facts, L.Get(3))
		return 0
	}
}

// factsStatusMessage is status_message(ns, message).
func factsStatusMessage(r *scriptRun, L *glua.LState) int {
	ns, msg := L.CheckString(1), L.CheckString(2)
	recordFacts(r, L, factStore|factEmit, ns, []fact{{"status_message", glua.LString(msg)}}, glua.LNil)
	r.statusMessage, r.statusSet = msg, true
	return 0
}

// recordFacts checks every fact first (a violation raises before anything
// is stored), then stores, logs and emits them.
func recordFacts(r *scriptRun, L *glua.LState, what factAction, ns string, facts []fact, details glua.LValue) {
	if ns == "" {
		L.RaiseError("nauthilus_policy_facts: the namespace must not be empty")
	}
	if len(ns) > maxFactNameBytes {
		L.RaiseError("nauthilus_policy_facts: a namespace of %d bytes, at most %d", len(ns), maxFactNameBytes)
	}
	for _, f := range facts {
		if f.key == "" {
			L.RaiseError("nauthilus_policy_facts: a fact key in namespace %q is empty", ns)
		}
		if len(f.key) > maxFactNameBytes {
			L.RaiseError("nauthilus_policy_facts: a fact key of %d bytes in namespace %q, at most %d", len(f.key), ns, maxFactNameBytes)
		}
		if what&factEmit == 0 {
			continue
		}
		id := "lua.plugin." + ns + "." + f.key
		if err := checkPolicyValue(f.value); err != nil {
			L.RaiseError("nauthilus_policy_facts: attribute %q: value %v", id, err)
		}
	}
	if what&factEmit != 0 {
		switch d := details.(type) {
		case *glua.LNilType:
		case *glua.LTable:
			if err := checkPolicyDetails(d); err != nil {
				L.RaiseError("nauthilus_policy_facts: %v", err)
			}
		default:
			L.RaiseError("nauthilus_policy_facts: details must be a table, got %s", details.Type())
		}
	}
	if what&factStore != 0 {
		storeFacts(r, L, ns, facts)
	}
	if what&factLog != 0 {
		for _, f := range facts {
			r.addLog("policy_fact_"+ns+"_"+f.key, r.factLogValue(f.value))
		}
	}
	// Emitting is checking (above): backline keeps no policy attributes.
}

// storeFacts is the read-modify-write of context["policy_facts"][ns].
func storeFacts(r *scriptRun, L *glua.LState, ns string, facts []fact) {
	get, set := contextFunction(r, L, "context_get"), contextFunction(r, L, "context_set")
	L.Push(get)
	L.Push(glua.LString(policyFactsKey))
	L.Call(1, 1)
	all, ok := L.Get(-1).(*glua.LTable)
	L.Pop(1)
	if !ok {
		all = L.NewTable()
	}
	space, ok := all.RawGetString(ns).(*glua.LTable)
	if !ok {
		space = L.NewTable()
		all.RawSetString(ns, space)
	}
	for _, f := range facts {
		space.RawSetString(f.key, f.value)
	}
	L.Push(set)
	L.Push(glua.LString(policyFactsKey))
	L.Push(all)
	L.Call(2, 0)
}

// contextFunction is nauthilus_context's function of this run, through the
// module's per-run proxy in package.loaded, so the facts land where
// context_get finds them whatever the context's implementation.
func contextFunction(r *scriptRun, L *glua.LState, name string) *glua.LFunction {
	fn := runModuleFunction(r, L, "nauthilus_context", name)
	if fn == nil {
		L.RaiseError("nauthilus_policy_facts needs nauthilus_context.%s, which this backline does not provide", name)
	}
	return fn
}

// factLogValue is a fact as a custom log value: scalars as they are (a
// string equal to the request's password redacted, as custom_log_add
// does), a list joined with commas, anything else by its type name.
func (r *scriptRun) factLogValue(v glua.LValue) any {
	switch x := v.(type) {
	case glua.LBool:
		return bool(x)
	case glua.LNumber:
		return float64(x)
	case glua.LString:
		return r.redact(string(x))
	case *glua.LTable:
		parts := make([]string, 0, x.Len())
		for i := 1; i <= x.Len() && i <= maxPolicyListItems; i++ {
			parts = append(parts, r.redact(x.RawGetInt(i).String()))
		}
		return strings.Join(parts, ",")
	case *glua.LNilType:
		return "nil"
	}
	return v.Type().String()
}

func sortFacts(facts []fact) {
	slices.SortFunc(facts, func(a, b fact) int {
		switch {
		case lessFactKey(a.key, b.key):
			return -1
		case lessFactKey(b.key, a.key):
			return 1
		}
		return 0
	})
}

// lessFactKey orders numeric keys numerically, then strings.
func lessFactKey(a, b string) bool {
	na, errA := strconv.ParseFloat(a, 64)
	nb, errB := strconv.ParseFloat(b, 64)
	switch {
	case errA == nil && errB == nil:
		return na < nb
	case errA == nil:
		return true
	case errB == nil:
		return false
	}
	return a < b
}
