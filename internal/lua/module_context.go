package lua

import (
	"errors"
	"fmt"
	"sync"

	glua "github.com/yuin/gopher-lua"

	"github.com/backline/backline/internal/config"
)

// nauthilus_context (spec nauthilus-lua-modules §4.2): one key/value store
// per authentication request, shared by the Lua password script and every
// filter of that request, gone with the request.
//
// Parallel filters follow Nauthilus HEAD's model (§4.2, §5 item 5): each
// run reads the request's context as it was when the run started plus its
// own writes, which it keeps in a private overlay. When the run (a password
// script) or the whole parallel step (the filters) ends, the overlays are
// merged into the request's context in configuration order, each with its
// deletions first, then its sets; a set map value is deep-merged key by
// key into a map already stored, anything else replaces. So two filters
// writing different sub-keys of one map are both kept, and on a scalar
// conflict the later filter in configuration order wins, whichever
// finished first. Filters of one request do not see each other's writes.

// RequestContext is the nauthilus_context store of one request. Whoever
// builds the Request sets Request.Context to share it between the password
// script and the filters; RunFilters and Verify make one when it is nil.
// Safe for concurrent use.
type RequestContext struct {
	mu     sync.RWMutex
	values map[string]ctxValue
	size   int64
}

// ctxEntryOverhead is what a context key costs beyond its text and value
// (map slot and entry), counted so that many tiny entries cannot hold more
// than the budget says.
const ctxEntryOverhead = 96

// ctxValue is a stored host value and its counted size (hostvalue.go);
// in a store the size includes the key and ctxEntryOverhead.
type ctxValue struct {
	v    any
	size int64
}

// NewRequestContext makes an empty store.
func NewRequestContext() *RequestContext { return &RequestContext{} }

// Size is the counted size of what the store holds (bytes, approximate).
func (c *RequestContext) Size() int64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.size
}

// Get returns a copy of the stored value (a host value, see hostvalue.go).
func (c *RequestContext) Get(key string) (any, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.values[key]
	return cloneHost(e.v), ok
}

// context returns the request's store, making it first when nil. Called on
// the caller's goroutine before any run of the request starts.
func (r *Request) context() *RequestContext {
	if r.Context == nil {
		r.Context = NewRequestContext()
	}
	return r.Context
}

// contextOverlay is one run's writes, merged into the request's store when
// its step ends.
type contextOverlay struct {
	sets    map[string]ctxValue
	deleted map[string]bool
	size    int64
}

func (o *contextOverlay) set(key string, v ctxValue) {
	if o.sets == nil {
		o.sets = map[string]ctxValue{}
	}
	o.size += v.size - o.sets[key].size
	o.sets[key] = v
}

func (o *contextOverlay) remove(key string) {
	if old, ok := o.sets[key]; ok {
		o.size -= old.size
		delete(o.sets, key)
	}
	if o.deleted == nil {
		o.deleted = map[string]bool{}
	}
	o.deleted[key] = true
}

// contextLookup is what the run sees for key: its own write, its own
// deletion, else the store's value. Stored values are never changed in
// place (a merge makes new maps), so the copy is made outside the lock.
func (r *scriptRun) contextLookup(key string) (ctxValue, bool) {
	if e, ok := r.ctxOverlay.sets[key]; ok {
		return e, true
	}
	if r.ctxOverlay.deleted[key] {
		return ctxValue{}, false
	}
	c := r.req.Context
	if c == nil {
		return ctxValue{}, false
	}
	c.mu.RLock()
	e, ok := c.values[key]
	c.mu.RUnlock()
	return e, ok
}

// mergeOverlays applies the runs' writes in the given (configuration) order.
func (c *RequestContext) mergeOverlays(runs ...*scriptRun) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range runs {
		if r == nil {
			continue
		}
		o := &r.ctxOverlay
		for key := range o.deleted {
			c.size -= c.values[key].size
			delete(c.values, key)
		}
		for key, e := range o.sets {
			old, had := c.values[key]
			if e.v == nil {
				if had {
					c.size -= old.size
					delete(c.values, key)
				}
				continue
			}
			merged := e
			if had {
				if v, deep := mergeHostMaps(old.v, e.v); deep {
					merged = ctxValue{v: v, size: hostSize(v) + int64(len(key)) + ctxEntryOverhead}
				}
			}
			if c.values == nil {
				c.values = map[string]ctxValue{}
			}
			c.size += merged.size - old.size
			c.values[key] = merged
		}
	}
}

// mergeHostMaps deep-merges next into old when both are maps (old is not
// changed); deep is false when either is not a map: next then replaces.
func mergeHostMaps(old, next any) (merged any, deep bool) {
	switch o := old.(type) {
	case map[string]any:
		switch n := next.(type) {
		case map[string]any:
			out := make(map[string]any, len(o)+len(n))
			for k, v := range o {
				out[k] = v
			}
			for k, v := range n {
				out[k] = mergeHostValue(out[k], v)
			}
			return out, true
		case map[any]any:
			return mergeHostMaps(anyKeys(o), n)
		}
	case map[any]any:
		switch n := next.(type) {
		case map[any]any:
			out := make(map[any]any, len(o)+len(n))
			for k, v := range o {
				out[k] = v
			}
			for k, v := range n {
				out[k] = mergeHostValue(out[k], v)
			}
			return out, true
		case map[string]any:
			return mergeHostMaps(o, anyKeys(n))
		}
	}
	return next, false
}

func mergeHostValue(old, next any) any {
	if old == nil {
		return next
	}
	merged, _ := mergeHostMaps(old, next)
	return merged
}

func anyKeys(m map[string]any) map[any]any {
	out := make(map[any]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

var contextFunctions = map[string]runFunc{
	"context_set": func(r *scriptRun, L *glua.LState) int {
		key := L.CheckString(1)
		e := r.hostValueForRun(L, "nauthilus_context.context_set", L.Get(2), r.contextRoom()-int64(len(key))-ctxEntryOverhead)
		e.size += int64(len(key)) + ctxEntryOverhead
		r.ctxOverlay.set(key, e)
		return 0
	},
	"context_get": func(r *scriptRun, L *glua.LState) int {
		if e, ok := r.contextLookup(L.CheckString(1)); ok {
			L.Push(r.hostValueToLua(L, e))
		} else {
			L.Push(glua.LNil)
		}
		return 1
	},
	"context_delete": func(r *scriptRun, L *glua.LState) int {
		r.ctxOverlay.remove(L.CheckString(1))
		return 0
	},
}

// contextRoom is how much more the run may put into the request's context:
// its memory budget less what it was measured to hold and what the context
// holds already (the store and this run's overlay).
func (r *scriptRun) contextRoom() int64 {
	held := r.measured.Load() + r.retained + r.ctxOverlay.size
	if c := r.req.Context; c != nil {
		held += c.Size()
	}
	return r.engine.maxMemory - held
}

// hostValueForRun converts a value a module function stores outside the
// state. More than room bytes stops the run as the memory budget does; a
// cycle or too deep a table is a Lua error naming the function.
func (r *scriptRun) hostValueForRun(L *glua.LState, fn string, lv glua.LValue, room int64) ctxValue {
	if room < 0 {
		room = 0
	}
	v, size, err := hostValueOf(lv, room)
	switch {
	case errors.Is(err, errHostTooLarge):
		err = fmt.Errorf("%w: %s: the value is larger than the %d bytes left; a run may hold %s (lua.config.max_memory)",
			errMemoryBudget, fn, room, config.ByteSize(r.engine.maxMemory))
		r.stop(err)
		L.RaiseError("%s", err.Error())
	case err != nil:
		L.RaiseError("%s: %v", fn, err)
	}
	return ctxValue{v: v, size: size}
}

// hostValueToLua makes the Lua copy of a stored value, charging the tables
// it builds to the run's memory budget while it builds them (luaBuild):
// what Lua holds is several times the stored size for small tables.
func (r *scriptRun) hostValueToLua(L *glua.LState, e ctxValue) glua.LValue {
	switch e.v.(type) {
	case []any, map[string]any, map[any]any:
	default:
		return hostToLua(L, e.v) // a string's bytes are shared, not copied
	}
	b := &luaBuild{charge: func(total int64) { r.state.charge(L, total) }}
	out := hostToLuaDepth(L, e.v, 0, b)
	r.state.chargeRetained(L, b.total)
	return out
}

func init() {
	registerModule(module{
		Name:      "nauthilus_context",
		Filter:    true,
		Password:  true,
		Functions: contextFunctions,
	})
}

// withContext is context() returning the request, for call chains.
func (r *Request) withContext() *Request {
	r.context()
	return r
}

// mergeFilterContexts merges the filters' context writes in config order
// (runs are in config order already).
func mergeFilterContexts(req *Request, runs []*filterRun) {
	rs := make([]*scriptRun, 0, len(runs))
	for _, fr := range runs {
		if fr != nil && fr.run != nil && (fr.run.ctxOverlay.sets != nil || fr.run.ctxOverlay.deleted != nil) {
			rs = append(rs, fr.run)
		}
	}
	if len(rs) > 0 {
		req.context().mergeOverlays(rs...)
	}
}

// Set stores a copy of a host value (as luaToHost makes them) for the
// request's scripts to read; for Go callers that seed a request's context.
func (c *RequestContext) Set(key string, v any) {
	v = cloneHost(v)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.values == nil {
		c.values = map[string]ctxValue{}
	}
	size := hostSize(v) + int64(len(key)) + ctxEntryOverhead
	c.size += size - c.values[key].size
	c.values[key] = ctxValue{v: v, size: size}
}
