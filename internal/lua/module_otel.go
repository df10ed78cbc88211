package lua

import (
	glua "github.com/yuin/gopher-lua"
)

// nauthilus_opentelemetry (spec nauthilus-lua-modules §4.6). backline has
// no tracing pipeline, so this is the module as Nauthilus documents it for
// tracing switched off: every function exists, is_enabled() is false,
// spans record nothing, with_span still calls its function, and
// inject_headers/extract_headers change nothing. (Nauthilus v1.12 and HEAD
// bind an empty table instead, so a script's otel.is_enabled() raises
// there; backline always provides the full module, as the spec asks.)
//
// Baggage works within one script run (baggage_set then baggage_get), at
// most maxBaggageEntries entries and maxBaggageBytes bytes (W3C's limit);
// it is not propagated anywhere.

const (
	maxBaggageEntries = 64
	maxBaggageBytes   = 8192
)

// baggage is one run's baggage (kept on the scriptRun).
type baggage struct {
	values map[string]string
	bytes  int
}

var otelFunctions = map[string]runFunc{
	"is_enabled": func(_ *scriptRun, L *glua.LState) int {
		L.Push(glua.LFalse)
		L.Push(glua.LNil)
		return 2
	},
	"tracer": func(r *scriptRun, L *glua.LState) int {
		L.OptString(1, "nauthilus/lua")
		L.Push(r.state.otelObject(L, "tracer"))
		return 1
	},
	"default_tracer": func(r *scriptRun, L *glua.LState) int {
		L.Push(r.state.otelObject(L, "tracer"))
		return 1
	},
	"baggage_set": func(r *scriptRun, L *glua.LState) int {
		k, v := L.CheckString(1), L.CheckString(2)
		b := &r.baggage
		old, had := b.values[k]
		size := b.bytes + len(k) + len(v)
		if had {
			size -= len(k) + len(old)
		}
		if (!had && len(b.values) >= maxBaggageEntries) || size > maxBaggageBytes {
			return 0 // as OpenTelemetry does with baggage over its limits
		}
		if b.values == nil {
			b.values = map[string]string{}
		}
		b.values[k], b.bytes = v, size
		return 0
	},
	"baggage_get": func(r *scriptRun, L *glua.LState) int {
		if v, ok := r.baggage.values[L.CheckString(1)]; ok {
			L.Push(glua.LString(v))
		} else {
			L.Push(glua.LNil)
		}
		return 1
	},
	"baggage_all": func(r *scriptRun, L *glua.LState) int {
		t := L.CreateTable(0, len(r.baggage.values))
		for k, v := range r.baggage.values {
			t.RawSetString(k, glua.LString(v))
		}
		L.Push(t)
		return 1
	},
	"baggage_clear": func(r *scriptRun, _ *glua.LState) int {
		r.baggage = baggage{}
		return 0
	},
	"inject_headers": func(_ *scriptRun, L *glua.LState) int {
		L.CheckTable(1) // tracing is off: no traceparent, no baggage header
		return 0
	},
	"extract_headers": func(_ *scriptRun, L *glua.LState) int {
		L.CheckTable(1)
		return 0
	},
}

// otelObject is a fresh tracer or span table whose methods come from a
// read-only table made once per state: a script may set fields on its own
// object, never on the next request's.
func (v *vm) otelObject(L *glua.LState, kind string) *glua.LTable {
	t := L.CreateTable(0, 0)
	t.Metatable = v.otelMeta[kind]
	return t
}

// otelSetup adds the semconv helpers and builds the tracer and span
// metatables of this state. Methods are looked up through a Go map, so no
// shared Lua table is reachable (and changeable) from a script.
func otelSetup(v *vm, module *glua.LTable) {
	L := v.L
	noop := L.NewFunction(func(*glua.LState) int { return 0 })
	span := map[string]glua.LValue{}
	for _, name := range []string{"set_attribute", "set_attributes", "add_event", "set_status", "record_error", "finish", "end"} {
		span[name] = noop
	}
	tracer := map[string]glua.LValue{
		"start_span": L.NewFunction(func(L *glua.LState) int {
			L.CheckTable(1)
			L.CheckString(2)
			L.Push(v.otelObject(L, "span"))
			return 1
		}),
		"with_span": L.NewFunction(func(L *glua.LState) int {
			L.CheckTable(1)
			L.CheckString(2)
			fn := L.CheckFunction(3)
			base := L.GetTop()
			L.Push(fn)
			L.Push(v.otelObject(L, "span"))
			L.Call(1, glua.MultRet)
			return L.GetTop() - base
		}),
	}
	v.otelMeta = map[string]*glua.LTable{}
	for kind, methods := range map[string]map[string]glua.LValue{"span": span, "tracer": tracer} {
		v.otelMeta[kind] = goIndexMeta(L, methods, nil)
	}

	semconv := map[string]glua.LValue{
		"peer_service": L.NewFunction(func(L *glua.LState) int {
			t := L.CreateTable(0, 1)
			t.RawSetString("peer.service", glua.LString(L.CheckString(1)))
			L.Push(t)
			return 1
		}),
		"http_client_attrs": attrMapper(L, map[string]string{
			"method": "http.request.method", "url": "url.full", "status_code": "http.response.status_code"}),
		"db_attrs": attrMapper(L, map[string]string{
			"system": "db.system", "name": "db.name", "operation": "db.operation", "statement": "db.statement"}),
		"net_attrs": attrMapper(L, map[string]string{
			"peer_name": "server.address", "peer_port": "server.port", "transport": "network.transport"}),
	}
	proxy := L.CreateTable(0, 0)
	proxy.Metatable = goIndexMeta(L, semconv, L.NewFunction(func(L *glua.LState) int {
		L.RaiseError("nauthilus_opentelemetry.semconv is shared between requests and read-only")
		return 0
	}))
	module.RawSetString("semconv", proxy)
}

// goIndexMeta is a metatable whose __index reads names from a Go map;
// newindex, when set, guards the object itself.
func goIndexMeta(L *glua.LState, names map[string]glua.LValue, newindex *glua.LFunction) *glua.LTable {
	mt := L.CreateTable(0, 3)
	mt.RawSetString("__index", L.NewFunction(func(L *glua.LState) int {
		key, isString := L.Get(2).(glua.LString)
		if v, ok := names[string(key)]; isString && ok {
			L.Push(v)
		} else {
			L.Push(glua.LNil)
		}
		return 1
	}))
	if newindex != nil {
		mt.RawSetString("__newindex", newindex)
	}
	mt.RawSetString("__metatable", glua.LFalse)
	return mt
}

// attrMapper turns a table of known fields into OpenTelemetry attribute
// names; string, number and boolean values are kept, the rest dropped.
func attrMapper(L *glua.LState, names map[string]string) *glua.LFunction {
	return L.NewFunction(func(L *glua.LState) int {
		in := L.OptTable(1, L.CreateTable(0, 0))
		out := L.CreateTable(0, len(names))
		for field, attr := range names {
			switch x := in.RawGetString(field).(type) {
			case glua.LString, glua.LNumber, glua.LBool:
				out.RawSetString(attr, x)
			}
		}
		L.Push(out)
		return 1
	})
}

func init() {
	registerModule(module{
		Name:      "nauthilus_opentelemetry",
		Filter:    true,
		Password:  true,
		Functions: otelFunctions,
		Setup:     otelSetup,
	})
}
