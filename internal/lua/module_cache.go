package lua

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	glua "github.com/yuin/gopher-lua"
)

// nauthilus_cache (spec nauthilus-lua-modules §4.4): one in-memory store
// per daemon, shared by every script and request and kept across reloads
// (it lives on the Host). Values are copied in and out (§2.3).
//
// Differences from Nauthilus, on purpose:
//   - The store is bounded: at most lua.config.cache_max_memory (default
//     64 MiB, counted as string bytes plus 32 per value and 160 per entry;
//     Host.CacheMaxBytes in tests). A write that does not fit first drops expired entries,
//     then the least recently used ones; a single value larger than the
//     whole store is refused with a Lua error.
//   - Expired entries are purged by the writes themselves, not by a
//     janitor goroutine: each write drops what has expired, found through
//     an expiry heap (module_cache_expiry.go) at the cost of what it drops.
//   - cache_update does not hold a lock over the whole cache while fn
//     runs: it holds the key. Other cache_update and writes of the same key
//     wait (within their own script_timeout); reads and other keys do not.
//     A cache call of fn that writes the same key is an error instead of
//     Nauthilus's deadlock.

// cacheEntryOverhead is what an entry costs beyond its key and value: the
// map slot, the LRU element and the entry itself (measured: about 130
// bytes), so a million tiny entries count for what they really hold.
const cacheEntryOverhead = 160

// entrySize is the counted size of an entry of key with a value of size.
func entrySize(key string, size int64) int64 { return size + int64(len(key)) + cacheEntryOverhead }

// DefaultCacheMaxBytes bounds nauthilus_cache when Host.CacheMaxBytes is 0.
const DefaultCacheMaxBytes = 64 << 20

type luaCache struct {
	mu      sync.Mutex
	entries map[string]*list.Element // of *cacheEntry
	// lru is oldest first: reads and writes move an entry to the back.
	lru       *list.List
	size, max int64
	now       func() time.Time
	// expiry holds the entries with a TTL, earliest first.
	expiry expiryHeap
	// busy keys are being updated; their channel closes when done.
	busy map[string]chan struct{}
}

type cacheEntry struct {
	key     string
	v       any
	size    int64
	expires time.Time // zero: never; set before the entry is stored, never changed
	// heapIndex is the entry's place in luaCache.expiry (entries with a TTL).
	heapIndex int
}

func newLuaCache(max int64, now func() time.Time) *luaCache {
	if max <= 0 {
		max = DefaultCacheMaxBytes
	}
	return &luaCache{entries: map[string]*list.Element{}, lru: list.New(), max: max, now: now, busy: map[string]chan struct{}{}}
}

func (h *Host) cache() *luaCache {
	return hostValue(h, "nauthilus_cache", func() *luaCache {
		now := h.Now
		if now == nil {
			now = time.Now
		}
		return newLuaCache(h.CacheMaxBytes, now)
	})
}

// setCacheLimit applies lua.config.cache_max_memory (0: keep the Host's
// CacheMaxBytes or the default) when an Engine's settings are applied
// (ApplyHostSettings), so a reload can change it; a smaller bound evicts
// on the next write.
func (h *Host) setCacheLimit(max int64) {
	if max <= 0 {
		return
	}
	c := h.cache()
	c.mu.Lock()
	c.max = max
	c.mu.Unlock()
}

func (e *cacheEntry) live(now time.Time) bool { return e.expires.IsZero() || now.Before(e.expires) }

// lookup returns the live entry (mu held), moving it to the back.
func (c *luaCache) lookup(key string) *cacheEntry {
	el, ok := c.entries[key]
	if !ok {
		return nil
	}
	e := el.Value.(*cacheEntry)
	if !e.live(c.now()) {
		c.removeElement(el)
		return nil
	}
	c.lru.MoveToBack(el)
	return e
}

func (c *luaCache) removeElement(el *list.Element) {
	e := el.Value.(*cacheEntry)
	c.lru.Remove(el)
	delete(c.entries, e.key)
	c.untrackExpiry(e)
	c.size -= e.size
}

// store puts e in (mu held), making room; false when e alone is too large.
func (c *luaCache) store(e *cacheEntry) bool {
	if e.size > c.max {
		return false
	}
	e.key = strings.Clone(e.key) // the script's key may share a larger string's bytes
	if el, ok := c.entries[e.key]; ok {
		c.removeElement(el)
	}
	c.purgeExpired(c.now())
	for c.size+e.size > c.max {
		c.removeElement(c.lru.Front())
	}
	c.entries[e.key] = c.lru.PushBack(e)
	c.trackExpiry(e)
	c.size += e.size
	return true
}

// waitKey waits until no cache_update holds key (mu held on entry and
// return; released while waiting). It fails when ctx ends first.
func (c *luaCache) waitKey(ctx context.Context, key string) error {
	for {
		ch, ok := c.busy[key]
		if !ok {
			return nil
		}
		c.mu.Unlock()
		select {
		case <-ch:
			c.mu.Lock()
		case <-ctx.Done():
			c.mu.Lock()
			return context.Cause(ctx)
		}
	}
}

// write runs f with mu held once no update holds key; the run's own
// cache_update of key makes it an error (it would wait for itself).
func (r *scriptRun) cacheWrite(L *glua.LState, fn, key string, f func(c *luaCache)) {
	if r.cacheUpdating != nil && r.cacheUpdating[key] {
		L.RaiseError("nauthilus_cache.%s: %q is being changed by this script's cache_update", fn, key)
	}
	c := r.engine.host.cache()
	c.mu.Lock()
	if err := c.waitKey(r.ctx, key); err != nil {
		c.mu.Unlock()
		L.RaiseError("nauthilus_cache.%s: %v", fn, err)
	}
	f(c)
	c.mu.Unlock()
}

// cacheValue converts a value for the cache: bounded by the run's memory
// budget and by the cache's size.
func (r *scriptRun) cacheValue(L *glua.LState, fn string, lv glua.LValue) (any, int64) {
	c := r.engine.host.cache()
	runRoom := r.engine.maxMemory - r.measured.Load() - r.retained
	c.mu.Lock()
	cacheMax := c.max // a reload may change it
	c.mu.Unlock()
	if cacheMax < runRoom {
		// The cache is the tighter bound: a value over it is the script's
		// error, not a budget stop.
		v, size, err := hostValueOf(lv, cacheMax)
		switch {
		case errors.Is(err, errHostTooLarge):
			L.RaiseError("%s: the value is larger than the whole cache (%d bytes)", fn, cacheMax)
		case err != nil:
			L.RaiseError("%s: %v", fn, err)
		}
		return v, size
	}
	e := r.hostValueForRun(L, fn, lv, runRoom)
	return e.v, e.size // the key is added by the caller
}

func ttlOf(L *glua.LState, n int) time.Duration {
	v := L.Get(n)
	if v == glua.LNil {
		return 0
	}
	secs := float64(L.CheckNumber(n))
	switch {
	case !(secs >= 1): // < 1 s truncates to 0, no expiry; also NaN
		return 0
	case secs > 1e9: // about 31 years; more would overflow a Duration
		return time.Duration(1e9) * time.Second
	}
	return time.Duration(int64(secs)) * time.Second
}

func (r *scriptRun) pushCacheValue(L *glua.LState, e *cacheEntry) int {
	if e == nil {
		L.Push(glua.LNil)
	} else {
		L.Push(r.hostValueToLua(L, ctxValue{v: e.v, size: e.size}))
	}
	L.Push(glua.LNil)
	return 2
}

var cacheFunctions = map[string]runFunc{
	"cache_set": func(r *scriptRun, L *glua.LState) int {
		key := L.CheckString(1)
		v, size := r.cacheValue(L, "nauthilus_cache.cache_set", L.Get(2))
		ttl := ttlOf(L, 3)
		ok := true
		r.cacheWrite(L, "cache_set", key, func(c *luaCache) {
			e := &cacheEntry{key: key, v: v, size: entrySize(key, size)}
			if ttl > 0 {
				e.expires = c.now().Add(ttl)
			}
			ok = c.store(e)
		})
		if !ok {
			L.RaiseError("nauthilus_cache.cache_set: the value (%d bytes) is larger than the whole cache", size)
		}
		L.Push(glua.LString("OK"))
		L.Push(glua.LNil)
		return 2
	},
	"cache_get": func(r *scriptRun, L *glua.LState) int {
		key := L.CheckString(1)
		c := r.engine.host.cache()
		c.mu.Lock()
		e := c.lookup(key)
		c.mu.Unlock()
		return r.pushCacheValue(L, e)
	},
	"cache_exists": func(r *scriptRun, L *glua.LState) int {
		key := L.CheckString(1)
		c := r.engine.host.cache()
		c.mu.Lock()
		e := c.lookup(key)
		c.mu.Unlock()
		L.Push(glua.LBool(e != nil))
		L.Push(glua.LNil)
		return 2
	},
	"cache_delete": func(r *scriptRun, L *glua.LState) int {
		key := L.CheckString(1)
		existed := false
		r.cacheWrite(L, "cache_delete", key, func(c *luaCache) {
			if c.lookup(key) != nil {
				existed = true
				c.removeElement(c.entries[key])
			}
		})
		L.Push(glua.LBool(existed))
		L.Push(glua.LNil)
		return 2
	},
	"cache_keys": func(r *scriptRun, L *glua.LState) int {
		c := r.engine.host.cache()
		c.mu.Lock()
		now := c.now()
		keys := make([]string, 0, len(c.entries))
		var bytes int64
		for k, el := range c.entries {
			if el.Value.(*cacheEntry).live(now) {
				keys = append(keys, k)
				bytes += int64(len(k)) + hostValueOverhead
			}
		}
		c.mu.Unlock()
		r.state.chargeRetained(L, bytes)
		L.Push(hostToLua(L, keys))
		L.Push(glua.LNil)
		return 2
	},
	"cache_size": func(r *scriptRun, L *glua.LState) int {
		c := r.engine.host.cache()
		c.mu.Lock()
		now, n := c.now(), 0
		for _, el := range c.entries {
			if el.Value.(*cacheEntry).live(now) {
				n++
			}
		}
		c.mu.Unlock()
		L.Push(glua.LNumber(n))
		L.Push(glua.LNil)
		return 2
	},
	"cache_flush": func(r *scriptRun, L *glua.LState) int {
		c := r.engine.host.cache()
		c.mu.Lock()
		c.flush()
		c.mu.Unlock()
		return 0
	},
	"cache_push": func(r *scriptRun, L *glua.LState) int {
		key := L.CheckString(1)
		v, size := r.cacheValue(L, "nauthilus_cache.cache_push", L.Get(2))
		n, ok := 0, true
		r.cacheWrite(L, "cache_push", key, func(c *luaCache) {
			e := &cacheEntry{key: key, v: []any{v}, size: entrySize(key, size) + hostValueOverhead}
			if old := c.lookup(key); old != nil {
				list, isList := old.v.([]any)
				if !isList {
					list = []any{old.v}
				}
				// A new slice: a reader converting the old one holds no lock.
				e.v = append(append(make([]any, 0, len(list)+1), list...), v)
				e.size = old.size + size
				e.expires = old.expires
			}
			n = len(e.v.([]any))
			ok = c.store(e)
		})
		if !ok {
			L.RaiseError("nauthilus_cache.cache_push: the list at %q would be larger than the whole cache", key)
		}
		L.Push(glua.LNumber(n))
		L.Push(glua.LNil)
		return 2
	},
	"cache_pop_all": func(r *scriptRun, L *glua.LState) int {
		key := L.CheckString(1)
		var e *cacheEntry
		r.cacheWrite(L, "cache_pop_all", key, func(c *luaCache) {
			if e = c.lookup(key); e != nil {
				c.removeElement(c.entries[key])
			}
		})
		return r.pushPoppedList(L, e)
	},
	"cache_update": cacheUpdate,
}

// pushPoppedList pushes what cache_pop_all returns for the entry it found:
// the entry's list (a lone value as a list of one), an empty table for a
// missing key, then nil. Its dry run (module_cache_dryrun.go) returns the
// same without removing the entry.
func (r *scriptRun) pushPoppedList(L *glua.LState, e *cacheEntry) int {
	switch {
	case e == nil:
		L.Push(L.CreateTable(0, 0))
	default:
		if _, isList := e.v.([]any); !isList {
			e = &cacheEntry{v: []any{e.v}, size: e.size}
		}
		L.Push(r.hostValueToLua(L, ctxValue{v: e.v, size: e.size}))
	}
	L.Push(glua.LNil)
	return 2
}

// cacheUpdate calls fn(old) holding the key (see the top of the file),
// stores fn's result and returns it. An existing entry keeps its expiry.
func cacheUpdate(r *scriptRun, L *glua.LState) int {
	key := L.CheckString(1)
	fn := L.CheckFunction(2)
	if r.cacheUpdating[key] {
		L.RaiseError("nauthilus_cache.cache_update: %q is already being updated by this script", key)
	}
	c := r.engine.host.cache()
	c.mu.Lock()
	if err := c.waitKey(r.ctx, key); err != nil {
		c.mu.Unlock()
		L.RaiseError("cache_update error: %v", err)
	}
	done := make(chan struct{})
	c.busy[key] = done
	old := c.lookup(key)
	c.mu.Unlock()
	if r.cacheUpdating == nil {
		r.cacheUpdating = map[string]bool{}
	}
	r.cacheUpdating[key] = true
	// Deferred: a Lua error raised below (by fn, by the budget) unwinds
	// through here, and the key must never stay held.
	defer func() {
		delete(r.cacheUpdating, key)
		c.mu.Lock()
		delete(c.busy, key)
		close(done)
		c.mu.Unlock()
	}()

	converted := r.cacheUpdateValue(L, fn, old)
	c.mu.Lock()
	e := &cacheEntry{key: key, v: converted.v, size: entrySize(key, converted.size)}
	if old != nil {
		e.expires = old.expires
	}
	stored := c.store(e)
	c.mu.Unlock()
	if !stored {
		L.RaiseError("cache_update error: the value (%d bytes) is larger than the whole cache", converted.size)
	}
	L.Push(r.hostValueToLua(L, ctxValue{v: converted.v, size: converted.size}))
	L.Push(glua.LNil)
	return 2
}

// cacheUpdateValue calls cache_update's fn with the old value (nil when
// there is none) and returns its result as a cache value; a real run and a
// dry run (module_cache_dryrun.go) share it.
func (r *scriptRun) cacheUpdateValue(L *glua.LState, fn *glua.LFunction, old *cacheEntry) ctxValue {
	var oldLua glua.LValue = glua.LNil
	if old != nil {
		oldLua = r.hostValueToLua(L, ctxValue{v: old.v, size: old.size})
	}
	L.Push(fn)
	L.Push(oldLua)
	if err := L.PCall(1, 1, nil); err != nil {
		L.RaiseError("cache_update error: %s", luaErrorText(err))
	}
	result := L.Get(-1)
	L.Pop(1)
	v, size := r.cacheValue(L, "cache_update error: nauthilus_cache.cache_update", result)
	return ctxValue{v: v, size: size}
}

// luaErrorText is a Lua error's message without gopher-lua's stack trace.
func luaErrorText(err error) string {
	if apiErr, ok := err.(*glua.ApiError); ok && apiErr.Object != nil {
		return apiErr.Object.String()
	}
	return fmt.Sprint(err)
}

func init() {
	markEffects("nauthilus_cache", cacheFunctions, cacheEffects)
	registerModule(module{
		Name:      "nauthilus_cache",
		Filter:    true,
		Password:  true,
		Functions: cacheFunctions,
	})
}
