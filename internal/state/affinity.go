package state

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// AffinityKey names one user's affinity for one protocol. Backend IDs are
// per protocol (imap-a and pop3-a are different backends), so a user has
// one entry per protocol. Stores compare User without ASCII case, as the
// user_hash policy hashes it ("Alice" and "alice" are one mailbox).
type AffinityKey struct {
	User     string
	Protocol string
}

// AffinityStore keeps user -> backend ID with a time to live. Every method
// is safe for concurrent use; errors are about the store (Redis
// unreachable) or ErrInvalidAffinity. A login costs one round trip
// (GetOrSet) whether the user is new or returning; a second (Set) only
// when the stored backend is no longer eligible and the user moves.
type AffinityStore interface {
	// Get returns the live backend ID for k. refresh > 0 also extends its
	// life to refresh from now, in the same round trip (a login); 0 only
	// reads (explain, ctl show).
	Get(ctx context.Context, k AffinityKey, refresh time.Duration) (backend string, ok bool, err error)
	// GetOrSet is a login's one store call: when k has a live entry it
	// extends its life to ttl from now and returns it (created false);
	// otherwise it stores candidate for ttl and returns it (created
	// true). Atomic: of two instances racing on a new user, one stores
	// and both return the stored backend. A live entry naming one of
	// noRefresh (drained backends) is returned without extending its
	// life, so its users leave once it expires.
	GetOrSet(ctx context.Context, k AffinityKey, candidate string, ttl time.Duration, noRefresh []string) (stored string, created bool, err error)
	// Set stores backend for k for ttl (> 0), replacing any entry.
	Set(ctx context.Context, k AffinityKey, backend string, ttl time.Duration) error
	// Delete removes k's entry; deleting a missing one is no error.
	Delete(ctx context.Context, k AffinityKey) error
}

// Limits of an affinity key: a longer user or protocol is refused (a login
// with such a name has failed long before selection).
const (
	MaxAffinityUserLen     = 1024
	MaxAffinityProtocolLen = 64
)

// ErrInvalidAffinity is returned (wrapped) for a key or value a store
// refuses.
var ErrInvalidAffinity = errors.New("invalid affinity entry")

func checkAffinityKey(k AffinityKey) error {
	if k.User == "" || len(k.User) > MaxAffinityUserLen {
		return fmt.Errorf("%w: user must be 1..%d bytes, got %d", ErrInvalidAffinity, MaxAffinityUserLen, len(k.User))
	}
	if k.Protocol == "" || len(k.Protocol) > MaxAffinityProtocolLen {
		return fmt.Errorf("%w: protocol must be 1..%d bytes, got %d", ErrInvalidAffinity, MaxAffinityProtocolLen, len(k.Protocol))
	}
	return nil
}

func checkAffinitySet(k AffinityKey, backend string, ttl time.Duration) error {
	if err := checkAffinityKey(k); err != nil {
		return err
	}
	if backend == "" || len(backend) > MaxIDLen {
		return fmt.Errorf("%w: backend must be 1..%d bytes, got %d", ErrInvalidAffinity, MaxIDLen, len(backend))
	}
	if ttl < time.Millisecond {
		return fmt.Errorf("%w: ttl must be at least 1ms, got %s", ErrInvalidAffinity, ttl)
	}
	return nil
}

// foldASCII lower-cases ASCII letters; it allocates only when s has an
// upper-case one.
func foldASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// DefaultMemoryAffinityEntries bounds the memory store when the caller
// gives no size: about 100 bytes an entry, so some 25 MB at most.
const DefaultMemoryAffinityEntries = 1 << 18

// MemoryAffinityStore is the one-instance AffinityStore. It holds at most
// its size of entries: expired ones are dropped when met, and a full store
// first sweeps a sample for expired entries and else evicts the sampled
// one that expires first (an approximate LRU, as a refresh on use moves
// expiry). It starts no goroutine, so there is nothing to stop.
type MemoryAffinityStore struct {
	now func() time.Time
	max int

	mu sync.RWMutex
	m  map[memAffinityKey]*memAffinity
}

type memAffinityKey struct{ user, protocol string }

type memAffinity struct {
	backend string
	expires atomic.Int64 // unix nanoseconds; refreshed under the read lock
}

// NewMemoryAffinityStore returns an empty store of at most maxEntries
// (DefaultMemoryAffinityEntries when <= 0); now is the clock (time.Now when nil).
func NewMemoryAffinityStore(maxEntries int, now func() time.Time) *MemoryAffinityStore {
	if maxEntries <= 0 {
		maxEntries = DefaultMemoryAffinityEntries
	}
	if now == nil {
		now = time.Now
	}
	return &MemoryAffinityStore{now: now, max: maxEntries, m: map[memAffinityKey]*memAffinity{}}
}

func memKey(k AffinityKey) memAffinityKey {
	return memAffinityKey{user: foldASCII(k.User), protocol: k.Protocol}
}

// Get implements AffinityStore.
func (s *MemoryAffinityStore) Get(_ context.Context, k AffinityKey, refresh time.Duration) (string, bool, error) {
	if err := checkAffinityKey(k); err != nil {
		return "", false, err
	}
	now := s.now().UnixNano()
	s.mu.RLock()
	e := s.m[memKey(k)]
	s.mu.RUnlock()
	if e == nil || e.expires.Load() <= now {
		return "", false, nil
	}
	if refresh > 0 {
		e.expires.Store(now + int64(refresh))
	}
	return e.backend, true, nil
}

// GetOrSet implements AffinityStore.
func (s *MemoryAffinityStore) GetOrSet(_ context.Context, k AffinityKey, candidate string, ttl time.Duration, noRefresh []string) (string, bool, error) {
	if err := checkAffinitySet(k, candidate, ttl); err != nil {
		return "", false, err
	}
	now := s.now().UnixNano()
	key := memKey(k)
	s.mu.RLock()
	e := s.m[key]
	s.mu.RUnlock()
	if e != nil && e.expires.Load() > now {
		e.refresh(now, ttl, noRefresh)
		return e.backend, false, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Look again under the write lock: another login may have stored it.
	if e := s.m[key]; e != nil && e.expires.Load() > now {
		e.refresh(now, ttl, noRefresh)
		return e.backend, false, nil
	}
	if _, ok := s.m[key]; !ok && len(s.m) >= s.max {
		s.evict(now)
	}
	e = &memAffinity{backend: candidate}
	e.expires.Store(now + int64(ttl))
	s.m[key] = e
	return candidate, true, nil
}

// refresh extends e's life to ttl from now unless it names one of
// noRefresh.
func (e *memAffinity) refresh(now int64, ttl time.Duration, noRefresh []string) {
	if !slices.Contains(noRefresh, e.backend) {
		e.expires.Store(now + int64(ttl))
	}
}

// Set implements AffinityStore.
func (s *MemoryAffinityStore) Set(_ context.Context, k AffinityKey, backend string, ttl time.Duration) error {
	if err := checkAffinitySet(k, backend, ttl); err != nil {
		return err
	}
	now := s.now().UnixNano()
	e := &memAffinity{backend: backend}
	e.expires.Store(now + int64(ttl))
	key := memKey(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[key]; !ok && len(s.m) >= s.max {
		s.evict(now)
	}
	s.m[key] = e
	return nil
}

// evictSample is how many entries a full store looks at to make room.
const evictSample = 16

// evict makes room for one entry: it drops the expired entries of a
// sample (map order is random enough), or else the sample's first to expire.
func (s *MemoryAffinityStore) evict(now int64) {
	var oldest memAffinityKey
	oldestAt, seen, freed := int64(0), 0, false
	for key, e := range s.m {
		at := e.expires.Load()
		if at <= now {
			delete(s.m, key)
			freed = true
		} else if seen == 0 || at < oldestAt {
			oldest, oldestAt = key, at
		}
		if seen++; seen >= evictSample {
			break
		}
	}
	if !freed && len(s.m) > 0 {
		delete(s.m, oldest)
	}
}

// Delete implements AffinityStore.
func (s *MemoryAffinityStore) Delete(_ context.Context, k AffinityKey) error {
	if err := checkAffinityKey(k); err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.m, memKey(k))
	s.mu.Unlock()
	return nil
}

// Len is the number of entries held, expired ones not yet dropped included.
func (s *MemoryAffinityStore) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.m)
}
