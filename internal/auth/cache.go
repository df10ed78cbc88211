package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"hash"
	"sync"
	"time"
)

// cacheKey is HMAC-SHA256 under a per-process random key of user, password
// and protocol: the cache holds no password, and its keys are useless
// outside this process. A shared cache (sharedcache.go) uses the key of
// auth.cache.hmac_key_file instead, the same on every instance.
type cacheKey [sha256.Size]byte

// cacheEntry is a remembered successful password check.
type cacheEntry struct {
	expires      time.Time
	account      string
	accountField string
	attributes   Attributes
}

// positiveCache remembers successful password checks for a TTL. Only
// successes are cached: a failure must always reach the database, and a
// changed password invalidates itself because the key includes it.
type positiveCache struct {
	ttl        time.Duration
	maxEntries int
	now        func() time.Time

	macPool sync.Pool // of *keyMAC, keyed with the process secret

	// shared, when set, holds the entries instead of the map below.
	shared *sharedCache

	mu        sync.RWMutex
	entries   map[cacheKey]cacheEntry
	lastSweep time.Time
}

func newPositiveCache(ttl time.Duration, maxEntries int) *positiveCache {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		panic("auth: no randomness for the cache key: " + err.Error())
	}
	return newKeyedCache(ttl, maxEntries, secret)
}

// newKeyedCache is a cache whose keys are HMACs under secret.
func newKeyedCache(ttl time.Duration, maxEntries int, secret []byte) *positiveCache {
	c := &positiveCache{ttl: ttl, maxEntries: maxEntries, now: time.Now, entries: map[cacheKey]cacheEntry{}}
	c.macPool.New = func() any { return &keyMAC{mac: hmac.New(sha256.New, secret)} }
	return c
}

func (c *positiveCache) enabled() bool { return c != nil && c.ttl > 0 }

func (c *positiveCache) key(user, password, protocol string) cacheKey {
	m := c.macPool.Get().(*keyMAC)
	m.mac.Reset()
	// One Write of a pooled buffer: a []byte conversion per part and the
	// Sum's output escaped to the heap, three allocations per request.
	buf := append(m.buf[:0], user...)
	buf = append(buf, 0)
	buf = append(buf, password...)
	buf = append(buf, 0)
	buf = append(buf, protocol...)
	m.mac.Write(buf)
	m.sum = m.mac.Sum(m.sum[:0])
	var k cacheKey
	copy(k[:], m.sum)
	clear(buf) // it held a password
	if cap(buf) <= maxPooledKeyBuffer {
		m.buf = buf[:0]
	} else {
		m.buf = nil
	}
	c.macPool.Put(m)
	return k
}

// keyMAC is a pooled HMAC with its input and output buffers.
type keyMAC struct {
	mac      hash.Hash
	buf, sum []byte
}

// maxPooledKeyBuffer keeps a huge password's buffer out of the pool.
const maxPooledKeyBuffer = 4 << 10

func (c *positiveCache) get(ctx context.Context, k cacheKey) (cacheEntry, bool) {
	if c.shared != nil {
		return c.shared.get(ctx, k)
	}
	c.mu.RLock()
	e, ok := c.entries[k]
	c.mu.RUnlock()
	if !ok || !c.now().Before(e.expires) {
		return cacheEntry{}, false
	}
	return e, true
}

// put remembers e; password is the login's, so a shared cache can refuse
// an answer that carries it.
func (c *positiveCache) put(ctx context.Context, k cacheKey, e cacheEntry, password string) {
	if c.shared != nil {
		c.shared.put(ctx, k, e, password)
		return
	}
	now := c.now()
	e.expires = now.Add(c.ttl)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, exists := c.entries[k]; !exists && len(c.entries) >= c.maxEntries {
		c.evictLocked(now)
	}
	c.entries[k] = e
}

// evictLocked drops expired entries, or if none, an arbitrary one: a full
// cache only costs extra database lookups, never correctness.
// A full sweep runs at most once per tenth of the TTL so that a cache full
// of fresh entries does not cost a scan per insert.
func (c *positiveCache) evictLocked(now time.Time) {
	if now.Sub(c.lastSweep) >= c.ttl/10 {
		c.lastSweep = now
		removed := 0
		for k, e := range c.entries {
			if !now.Before(e.expires) {
				delete(c.entries, k)
				removed++
			}
		}
		if removed > 0 {
			return
		}
	}
	for k := range c.entries {
		delete(c.entries, k)
		return
	}
}

// clear forgets everything, e.g. after a passwd-file changed.
func (c *positiveCache) clear() {
	if c == nil {
		return
	}
	if c.shared != nil {
		c.shared.clear()
		return
	}
	c.mu.Lock()
	clear(c.entries)
	c.mu.Unlock()
}

func (c *positiveCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}
