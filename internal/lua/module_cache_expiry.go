package lua

import (
	"container/heap"
	"time"
)

// expiryHeap orders the cache entries that have a TTL by when they expire,
// earliest first, so a write finds the expired ones without walking the
// store. A full cache used to walk its whole LRU list on every write to
// look for them: with the store full of 5,000 small entries, 50,000 writes
// took 7.7 s (over a minute under -race); a full 64 MiB store of small
// values holds hundreds of thousands, walked under the cache's lock.
//
// An entry's expires is set before it is stored and never changed, so an
// entry is in the heap exactly when expires is not zero, at heapIndex.
type expiryHeap []*cacheEntry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].expires.Before(h[j].expires) }
func (h expiryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIndex, h[j].heapIndex = i, j
}

func (h *expiryHeap) Push(x any) {
	e := x.(*cacheEntry)
	e.heapIndex = len(*h)
	*h = append(*h, e)
}

func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil // the store must not keep a removed entry alive
	*h = old[:len(old)-1]
	return e
}

// trackExpiry adds a stored entry with a TTL to the heap (mu held).
func (c *luaCache) trackExpiry(e *cacheEntry) {
	if !e.expires.IsZero() {
		heap.Push(&c.expiry, e)
	}
}

// untrackExpiry takes a removed entry out of the heap (mu held).
func (c *luaCache) untrackExpiry(e *cacheEntry) {
	if !e.expires.IsZero() {
		heap.Remove(&c.expiry, e.heapIndex)
	}
}

// purgeExpired drops the entries expired at now (mu held): only those, in
// order of expiry, so its cost is what it removes.
func (c *luaCache) purgeExpired(now time.Time) {
	for len(c.expiry) > 0 && !c.expiry[0].live(now) {
		c.removeElement(c.entries[c.expiry[0].key])
	}
}

// flush empties the store (mu held).
func (c *luaCache) flush() {
	clear(c.entries)
	c.lru.Init()
	clear(c.expiry)
	c.expiry = c.expiry[:0]
	c.size = 0
}
