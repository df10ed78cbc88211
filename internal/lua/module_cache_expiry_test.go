package lua

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

// TestCacheExpiryHeapStaysConsistent runs random writes, overwrites,
// deletes, flushes and clock moves against a small store and checks after
// each that the expiry heap holds exactly the stored entries with a TTL,
// at their indexes, and that a write left nothing expired behind.
func TestCacheExpiryHeapStaysConsistent(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	c := newLuaCache(20*cacheEntryOverhead, func() time.Time { return now })
	rng := rand.New(rand.NewPCG(1, 2))
	for step := range 20000 {
		key := "k" + strconv.Itoa(rng.IntN(40))
		wrote := false
		switch op := rng.IntN(10); {
		case op < 6:
			e := &cacheEntry{key: key, size: entrySize(key, int64(rng.IntN(64)))}
			if rng.IntN(2) == 0 {
				e.expires = now.Add(time.Duration(1+rng.IntN(10)) * time.Second)
			}
			c.store(e)
			wrote = true
		case op < 8:
			if el, ok := c.entries[key]; ok {
				c.removeElement(el)
			}
		case op < 9:
			now = now.Add(time.Duration(rng.IntN(3)) * time.Second)
		default:
			if rng.IntN(50) == 0 {
				c.flush()
			}
		}
		checkCacheInvariants(t, c, now, wrote, step)
	}
}

func checkCacheInvariants(t *testing.T, c *luaCache, now time.Time, wrote bool, step int) {
	t.Helper()
	withTTL, size := 0, int64(0)
	for el := c.lru.Front(); el != nil; el = el.Next() {
		e := el.Value.(*cacheEntry)
		size += e.size
		if c.entries[e.key] != el {
			t.Fatalf("step %d: %q in the LRU list but not in the map", step, e.key)
		}
		if e.expires.IsZero() {
			continue
		}
		withTTL++
		if e.heapIndex >= len(c.expiry) || c.expiry[e.heapIndex] != e {
			t.Fatalf("step %d: %q not at its heap index %d", step, e.key, e.heapIndex)
		}
		if wrote && !e.live(now) {
			t.Fatalf("step %d: %q expired but still stored after a write", step, e.key)
		}
	}
	if withTTL != len(c.expiry) || len(c.entries) != c.lru.Len() || size != c.size || c.size > c.max {
		t.Fatalf("step %d: %d entries with a TTL, heap %d; map %d, list %d; size %d counted %d, max %d",
			step, withTTL, len(c.expiry), len(c.entries), c.lru.Len(), size, c.size, c.max)
	}
	for i := 1; i < len(c.expiry); i++ {
		if c.expiry[i].expires.Before(c.expiry[(i-1)/2].expires) {
			t.Fatalf("step %d: heap order broken at %d", step, i)
		}
	}
}
