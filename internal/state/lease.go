package state

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// LeaseStore hands out one probe lease per backend ID across instances,
// with a fencing token, and keeps what the lease holder publishes (issue
// 11 item 2). Only the holder of the current token may publish, so an
// owner that was paused past its lease (a long GC, a frozen VM) and then
// publishes with its old token is refused.
//
// Times are the store's: lease expiry and the age of a published result
// are measured on one clock (Redis's for the Redis store), so instances
// whose clocks disagree still agree on who holds a lease and how old a
// result is. Every method is safe for concurrent use.
type LeaseStore interface {
	// Acquire takes id's lease for owner for ttl. When owner already holds
	// it, the lease is extended and its token returned (a round's acquire
	// doubles as its renew). When another owner holds it, ok is false and
	// token is that holder's.
	Acquire(ctx context.Context, id, owner string, ttl time.Duration) (token uint64, ok bool, err error)
	// AcquireAll is Acquire for each of ids in one round trip (the Redis
	// store pipelines it); held maps the IDs whose lease owner now holds to
	// their tokens. An error may leave some leases taken.
	AcquireAll(ctx context.Context, ids []string, owner string, ttl time.Duration) (held map[string]uint64, err error)
	// Renew extends the lease when owner still holds it under token.
	Renew(ctx context.Context, id, owner string, token uint64, ttl time.Duration) (bool, error)
	// Release gives the lease up when owner holds it under token, so
	// another instance may take it at once; otherwise it does nothing.
	Release(ctx context.Context, id, owner string, token uint64) error
	// Publish stores data as id's newest result when token is the current
	// lease's; ok is false (and nothing is stored) otherwise. seq numbers
	// the results of id, one up per accepted publish. Results are kept for
	// keep after the last publish, at most PublishedKept of them.
	Publish(ctx context.Context, id string, token uint64, data []byte, keep time.Duration) (seq uint64, ok bool, err error)
	// PublishAll is Publish for each item in one round trip (the Redis
	// store pipelines it). seqs[i] is item i's seq, 0 when it was refused.
	// With an error, items with a seq went through and the others are in
	// doubt only if the store answered partly (they were not stored when
	// the store did not answer at all).
	PublishAll(ctx context.Context, items []PublishItem, keep time.Duration) (seqs []uint64, err error)
	// Fetch returns, per ID, the kept results no older than maxAge, oldest
	// first. IDs without any are absent.
	Fetch(ctx context.Context, ids []string, maxAge time.Duration) (map[string][]Published, error)
}

// PublishItem is one result handed to PublishAll.
type PublishItem struct {
	ID    string
	Token uint64
	Data  []byte
}

// Published is one result a lease holder published.
type Published struct {
	Seq   uint64
	Token uint64
	Data  []byte
	// Age is how long ago it was published, on the store's clock.
	Age time.Duration
}

// Limits of the lease store.
const (
	PublishedKept    = 4        // results kept per ID, so a reader polling a little late misses none
	MaxPublishedSize = 16 << 10 // bytes of one result
	MaxOwnerLen      = 256
)

func checkLease(id, owner string, ttl time.Duration) error {
	if err := checkID(id); err != nil {
		return err
	}
	if owner == "" || len(owner) > MaxOwnerLen {
		return fmt.Errorf("%w: lease owner must be 1..%d bytes, got %d", ErrInvalid, MaxOwnerLen, len(owner))
	}
	if ttl < time.Millisecond {
		return fmt.Errorf("%w: lease ttl must be at least 1ms, got %s", ErrInvalid, ttl)
	}
	return nil
}

func checkPublish(id string, data []byte, keep time.Duration) error {
	if err := checkID(id); err != nil {
		return err
	}
	if len(data) > MaxPublishedSize {
		return fmt.Errorf("%w: published result of %q is %d bytes, at most %d", ErrInvalid, id, len(data), MaxPublishedSize)
	}
	if keep < time.Millisecond {
		return fmt.Errorf("%w: keep must be at least 1ms, got %s", ErrInvalid, keep)
	}
	return nil
}

// MemoryLeaseStore is a LeaseStore inside one process: the behavioural
// reference for the Redis store, and what tests share between engines.
type MemoryLeaseStore struct {
	now     func() time.Time
	mu      sync.Mutex
	leases  map[string]memLease
	fences  map[string]uint64 // never reset: tokens only grow
	seqs    map[string]uint64
	results map[string]*memResults
}

type memLease struct {
	owner string
	token uint64
	until time.Time
}

type memResults struct {
	list  []memPublished // oldest first
	until time.Time
}

type memPublished struct {
	Published
	at time.Time
}

// NewMemoryLeaseStore returns an empty store on clock now (time.Now if nil).
func NewMemoryLeaseStore(now func() time.Time) *MemoryLeaseStore {
	if now == nil {
		now = time.Now
	}
	return &MemoryLeaseStore{now: now, leases: map[string]memLease{}, fences: map[string]uint64{},
		seqs: map[string]uint64{}, results: map[string]*memResults{}}
}

// current returns id's live lease; m.mu held.
func (m *MemoryLeaseStore) current(id string, now time.Time) (memLease, bool) {
	l, ok := m.leases[id]
	if ok && !now.Before(l.until) {
		delete(m.leases, id)
		return memLease{}, false
	}
	return l, ok
}

// Acquire implements LeaseStore.
func (m *MemoryLeaseStore) Acquire(_ context.Context, id, owner string, ttl time.Duration) (uint64, bool, error) {
	if err := checkLease(id, owner, ttl); err != nil {
		return 0, false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if l, ok := m.current(id, now); ok {
		if l.owner != owner {
			return l.token, false, nil
		}
		l.until = now.Add(ttl)
		m.leases[id] = l
		return l.token, true, nil
	}
	m.fences[id]++
	l := memLease{owner: owner, token: m.fences[id], until: now.Add(ttl)}
	m.leases[id] = l
	return l.token, true, nil
}

// AcquireAll implements LeaseStore.
func (m *MemoryLeaseStore) AcquireAll(ctx context.Context, ids []string, owner string, ttl time.Duration) (map[string]uint64, error) {
	held := make(map[string]uint64, len(ids))
	for _, id := range ids {
		tok, ok, err := m.Acquire(ctx, id, owner, ttl)
		if err != nil {
			return nil, err
		}
		if ok {
			held[id] = tok
		}
	}
	return held, nil
}

// Renew implements LeaseStore.
func (m *MemoryLeaseStore) Renew(_ context.Context, id, owner string, token uint64, ttl time.Duration) (bool, error) {
	if err := checkLease(id, owner, ttl); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	l, ok := m.current(id, now)
	if !ok || l.owner != owner || l.token != token {
		return false, nil
	}
	l.until = now.Add(ttl)
	m.leases[id] = l
	return true, nil
}

// Release implements LeaseStore.
func (m *MemoryLeaseStore) Release(_ context.Context, id, owner string, token uint64) error {
	if err := checkLease(id, owner, time.Second); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.current(id, m.now()); ok && l.owner == owner && l.token == token {
		delete(m.leases, id)
	}
	return nil
}

// Publish implements LeaseStore.
func (m *MemoryLeaseStore) Publish(_ context.Context, id string, token uint64, data []byte, keep time.Duration) (uint64, bool, error) {
	if err := checkPublish(id, data, keep); err != nil {
		return 0, false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if l, ok := m.current(id, now); !ok || l.token != token {
		return 0, false, nil
	}
	m.seqs[id]++
	r := m.liveResults(id, now)
	if r == nil {
		r = &memResults{}
		m.results[id] = r
	}
	p := memPublished{Published{Seq: m.seqs[id], Token: token, Data: append([]byte(nil), data...)}, now}
	r.list = append(r.list, p)
	if extra := len(r.list) - PublishedKept; extra > 0 {
		r.list = append([]memPublished(nil), r.list[extra:]...)
	}
	r.until = now.Add(keep)
	return p.Seq, true, nil
}

// PublishAll implements LeaseStore.
func (m *MemoryLeaseStore) PublishAll(ctx context.Context, items []PublishItem, keep time.Duration) ([]uint64, error) {
	seqs := make([]uint64, len(items))
	for i, it := range items {
		seq, _, err := m.Publish(ctx, it.ID, it.Token, it.Data, keep)
		if err != nil {
			return seqs, err
		}
		seqs[i] = seq
	}
	return seqs, nil
}

func (m *MemoryLeaseStore) liveResults(id string, now time.Time) *memResults {
	r := m.results[id]
	if r != nil && !now.Before(r.until) {
		delete(m.results, id)
		return nil
	}
	return r
}

// Fetch implements LeaseStore.
func (m *MemoryLeaseStore) Fetch(_ context.Context, ids []string, maxAge time.Duration) (map[string][]Published, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	out := map[string][]Published{}
	for _, id := range ids {
		r := m.liveResults(id, now)
		if r == nil {
			continue
		}
		for _, p := range r.list {
			age := max(now.Sub(p.at), 0)
			if age > maxAge {
				continue
			}
			q := p.Published
			q.Age = age
			q.Data = append([]byte(nil), p.Data...)
			out[id] = append(out[id], q)
		}
	}
	return out, nil
}
