package lua

import (
	glua "github.com/yuin/gopher-lua"
)

// cacheEffects are nauthilus_cache's writes and what each does in a dry
// run (dryrun.go): the arguments are checked as for a real call, the cache
// is read and never changed, and the result is the one the real call
// would have returned.
var cacheEffects = map[string]runFunc{
	// cache_set: "OK", nil.
	"cache_set": func(r *scriptRun, L *glua.LState) int {
		L.CheckString(1)
		r.cacheValue(L, "nauthilus_cache.cache_set", L.Get(2))
		ttlOf(L, 3)
		L.Push(glua.LString("OK"))
		L.Push(glua.LNil)
		return 2
	},
	// cache_delete: whether the key exists (what a real delete returns).
	"cache_delete": func(r *scriptRun, L *glua.LState) int {
		e := r.cacheLookup(L.CheckString(1))
		L.Push(glua.LBool(e != nil))
		L.Push(glua.LNil)
		return 2
	},
	// cache_flush: nothing.
	"cache_flush": dryReturns(),
	// cache_push: the list's length after the push, nil.
	"cache_push": func(r *scriptRun, L *glua.LState) int {
		key := L.CheckString(1)
		r.cacheValue(L, "nauthilus_cache.cache_push", L.Get(2))
		n := 1
		if e := r.cacheLookup(key); e != nil {
			if list, isList := e.v.([]any); isList {
				n = len(list) + 1
			} else {
				n = 2
			}
		}
		L.Push(glua.LNumber(n))
		L.Push(glua.LNil)
		return 2
	},
	// cache_pop_all: the list, which stays in the cache.
	"cache_pop_all": func(r *scriptRun, L *glua.LState) int {
		return r.pushPoppedList(L, r.cacheLookup(L.CheckString(1)))
	},
	// cache_update: fn(old) is called (its own writes are dry too) and
	// its result returned, not stored; the key is not held.
	"cache_update": func(r *scriptRun, L *glua.LState) int {
		old := r.cacheLookup(L.CheckString(1))
		L.Push(r.hostValueToLua(L, r.cacheUpdateValue(L, L.CheckFunction(2), old)))
		L.Push(glua.LNil)
		return 2
	},
}

// cacheLookup reads one live entry.
func (r *scriptRun) cacheLookup(key string) *cacheEntry {
	c := r.engine.host.cache()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lookup(key)
}
