package state

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"time"
)

// FallbackAuthCacheStore is the shared auth cache that survives a Redis
// outage: it uses shared (Redis) while that answers and this instance's
// local memory while it does not, so logins keep their cache hits (and
// the password databases, a backend_login passdb's mail servers above
// all, are not asked for every login exactly when things are degraded).
// With a RedisBreaker on shared's client, a dead Redis fails at once
// rather than after its timeouts.
//
// Consistency, chosen to stay on the safe side of a positive-only cache:
//   - Entries written locally during the outage stay local: they are not
//     pushed to Redis when it is back (other instances did their own
//     password checks meanwhile).
//   - When Redis answers again the local entries are dropped, so the next
//     outage starts from an empty local cache, never from old entries.
//   - A Clear during the outage clears the local memory at once and is
//     replayed on Redis before the first Redis lookup after it returns
//     (no entry written before the Clear is trusted then).
//   - Keys include the password, so a changed password is always a miss;
//     what an entry can outlive is a disabled account or changed
//     attributes, for at most its TTL (auth.cache.ttl), in Redis or local
//     memory alike.
type FallbackAuthCacheStore struct {
	shared AuthCacheStore
	local  *MemoryAuthCacheStore

	// OnFallback hears each call served by local memory because shared
	// failed or its breaker is open: op is "get", "set", "delete" or
	// "clear". Set it before use.
	OnFallback func(op string)

	degraded     atomic.Bool // the last shared call failed
	pendingClear atomic.Bool // a Clear has not reached shared yet
}

// NewFallbackAuthCacheStore composes shared with local.
func NewFallbackAuthCacheStore(shared AuthCacheStore, local *MemoryAuthCacheStore) *FallbackAuthCacheStore {
	return &FallbackAuthCacheStore{shared: shared, local: local}
}

// SetOnCorrupt passes f to the shared store (see RedisAuthCacheStore).
func (s *FallbackAuthCacheStore) SetOnCorrupt(f func(reason string)) {
	if r, ok := s.shared.(interface{ SetOnCorrupt(func(string)) }); ok {
		r.SetOnCorrupt(f)
	}
}

// Degraded reports whether the last call to the shared store failed.
func (s *FallbackAuthCacheStore) Degraded() bool { return s.degraded.Load() }

// sharedFailed notes a shared-store error that is not about the entry.
func (s *FallbackAuthCacheStore) sharedFailed(op string, err error) bool {
	if err == nil || errors.Is(err, ErrInvalidCacheEntry) {
		return false
	}
	s.degraded.Store(true)
	if s.OnFallback != nil {
		s.OnFallback(op)
	}
	return true
}

// sharedAnswered notes that shared works (again): local entries of the
// outage are dropped.
func (s *FallbackAuthCacheStore) sharedAnswered(ctx context.Context) {
	if s.degraded.Load() && s.degraded.CompareAndSwap(true, false) {
		s.local.Clear(ctx)
	}
}

// flushClear replays a Clear shared missed; false when it still cannot.
func (s *FallbackAuthCacheStore) flushClear(ctx context.Context) bool {
	if !s.pendingClear.Load() {
		return true
	}
	if err := s.shared.Clear(ctx); err != nil {
		return false
	}
	s.pendingClear.Store(false)
	return true
}

// Get implements AuthCacheStore.
func (s *FallbackAuthCacheStore) Get(ctx context.Context, key []byte) (json.RawMessage, bool, error) {
	if err := checkCacheKey(key); err != nil {
		return nil, false, err
	}
	if !s.flushClear(ctx) {
		s.sharedFailed("get", ErrRedisUnavailable)
		return s.local.Get(ctx, key)
	}
	v, ok, err := s.shared.Get(ctx, key)
	if s.sharedFailed("get", err) {
		return s.local.Get(ctx, key)
	}
	if err == nil {
		s.sharedAnswered(ctx)
	}
	return v, ok, err
}

// Set implements AuthCacheStore.
func (s *FallbackAuthCacheStore) Set(ctx context.Context, key []byte, value json.RawMessage, ttl time.Duration) error {
	if err := checkCacheSet(key, value, ttl); err != nil {
		return err
	}
	if s.pendingClear.Load() {
		// Written under the epoch before the Clear, it would be void
		// anyway; keep it local until the Clear is through.
		s.sharedFailed("set", ErrRedisUnavailable)
		return s.local.Set(ctx, key, value, ttl)
	}
	err := s.shared.Set(ctx, key, value, ttl)
	if s.sharedFailed("set", err) {
		return s.local.Set(ctx, key, value, ttl)
	}
	if err == nil {
		s.sharedAnswered(ctx)
	}
	return err
}

// Delete implements AuthCacheStore: from both, so a deleted entry cannot
// come back from either.
func (s *FallbackAuthCacheStore) Delete(ctx context.Context, key []byte) error {
	if err := s.local.Delete(ctx, key); err != nil {
		return err
	}
	err := s.shared.Delete(ctx, key)
	s.sharedFailed("delete", err) // the shared entry may live on: the caller hears it
	return err
}

// Clear implements AuthCacheStore: the local memory at once; shared now or,
// if it cannot take it, before its next lookup.
func (s *FallbackAuthCacheStore) Clear(ctx context.Context) error {
	s.pendingClear.Store(true)
	s.local.Clear(ctx)
	if !s.flushClear(ctx) {
		s.sharedFailed("clear", ErrRedisUnavailable)
	}
	return nil
}
