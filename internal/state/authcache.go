package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"
)

// AuthCacheStore keeps the positive authentication cache: remembered
// successful password checks, by key. The key is an HMAC of the login
// under a secret the caller holds (internal/auth); the value is the
// answer the caller needs to repeat (account, attributes), a JSON object.
// Neither may hold a password: the store is shared through Redis, which
// other programs and operators can read. Every method is safe for
// concurrent use; errors are about the store (Redis unreachable) or
// ErrInvalidCacheEntry for what cannot be stored.
type AuthCacheStore interface {
	// Get returns the live value for key; ok is false when there is none,
	// it expired, Clear came after it, or what is stored is unreadable.
	Get(ctx context.Context, key []byte) (value json.RawMessage, ok bool, err error)
	// Set stores value for ttl, replacing any value of key.
	Set(ctx context.Context, key []byte, value json.RawMessage, ttl time.Duration) error
	// Delete forgets key; a missing key is no error.
	Delete(ctx context.Context, key []byte) error
	// Clear forgets every value (a password database changed), for every
	// instance sharing the store.
	Clear(ctx context.Context) error
}

// Limits of the auth cache: keys are digests (an HMAC-SHA256 is 32 bytes),
// values are small JSON objects.
const (
	MaxAuthCacheKeyLen = 64
	MaxAuthCacheValue  = 16 << 10
	MaxAuthCacheTTL    = 24 * time.Hour
)

// ErrInvalidCacheEntry is returned (wrapped) for a key, value or TTL that
// cannot be stored.
var ErrInvalidCacheEntry = errors.New("invalid auth cache entry")

func checkCacheKey(key []byte) error {
	if len(key) == 0 || len(key) > MaxAuthCacheKeyLen {
		return fmt.Errorf("%w: key must be 1..%d bytes, got %d", ErrInvalidCacheEntry, MaxAuthCacheKeyLen, len(key))
	}
	return nil
}

func checkCacheSet(key []byte, value json.RawMessage, ttl time.Duration) error {
	if err := checkCacheKey(key); err != nil {
		return err
	}
	if ttl <= 0 || ttl > MaxAuthCacheTTL {
		return fmt.Errorf("%w: ttl must be in (0, %s], got %s", ErrInvalidCacheEntry, MaxAuthCacheTTL, ttl)
	}
	if len(value) > MaxAuthCacheValue {
		return fmt.Errorf("%w: value is %d bytes, at most %d", ErrInvalidCacheEntry, len(value), MaxAuthCacheValue)
	}
	if !isJSONObject(value) {
		return fmt.Errorf("%w: value must be a JSON object", ErrInvalidCacheEntry)
	}
	return nil
}

// MemoryAuthCacheStore is the AuthCacheStore of one instance: a map with
// expiry and a size bound (a full store drops expired entries, or else an
// arbitrary one: a dropped entry only costs a database lookup).
type MemoryAuthCacheStore struct {
	now        func() time.Time
	maxEntries int

	mu      sync.Mutex
	entries map[string]memoryCacheEntry
}

type memoryCacheEntry struct {
	value   json.RawMessage
	expires time.Time
}

// NewMemoryAuthCacheStore returns an empty store of at most maxEntries
// (at least 1) on the clock now (nil: time.Now).
func NewMemoryAuthCacheStore(maxEntries int, now func() time.Time) *MemoryAuthCacheStore {
	if now == nil {
		now = time.Now
	}
	return &MemoryAuthCacheStore{now: now, maxEntries: max(maxEntries, 1), entries: map[string]memoryCacheEntry{}}
}

// Get implements AuthCacheStore.
func (s *MemoryAuthCacheStore) Get(_ context.Context, key []byte) (json.RawMessage, bool, error) {
	if err := checkCacheKey(key); err != nil {
		return nil, false, err
	}
	s.mu.Lock()
	e, ok := s.entries[string(key)]
	s.mu.Unlock()
	if !ok || !s.now().Before(e.expires) {
		return nil, false, nil
	}
	return append(json.RawMessage(nil), e.value...), true, nil
}

// Set implements AuthCacheStore.
func (s *MemoryAuthCacheStore) Set(_ context.Context, key []byte, value json.RawMessage, ttl time.Duration) error {
	if err := checkCacheSet(key, value, ttl); err != nil {
		return err
	}
	now := s.now()
	e := memoryCacheEntry{value: append(json.RawMessage(nil), value...), expires: now.Add(ttl)}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, exists := s.entries[string(key)]; !exists && len(s.entries) >= s.maxEntries {
		s.evictLocked(now)
	}
	s.entries[string(key)] = e
	return nil
}

func (s *MemoryAuthCacheStore) evictLocked(now time.Time) {
	for k, e := range s.entries {
		if !now.Before(e.expires) {
			delete(s.entries, k)
		}
	}
	if len(s.entries) < s.maxEntries {
		return
	}
	for k := range s.entries {
		delete(s.entries, k)
		return
	}
}

// Delete implements AuthCacheStore.
func (s *MemoryAuthCacheStore) Delete(_ context.Context, key []byte) error {
	if err := checkCacheKey(key); err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.entries, string(key))
	s.mu.Unlock()
	return nil
}

// Clear implements AuthCacheStore.
func (s *MemoryAuthCacheStore) Clear(context.Context) error {
	s.mu.Lock()
	clear(s.entries)
	s.mu.Unlock()
	return nil
}
