package state

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"time"
)

// MemoryAdminStore is the embedded store: one instance's admin entries, as
// backline kept them before storage.redis.
type MemoryAdminStore struct {
	now func() time.Time

	mu      sync.Mutex
	entries map[string]AdminEntry
	rev     uint64
}

// NewMemoryAdminStore returns an empty store; now is the clock (nil:
// time.Now), so tests can move time.
func NewMemoryAdminStore(now func() time.Time) *MemoryAdminStore {
	if now == nil {
		now = time.Now
	}
	return &MemoryAdminStore{now: now, entries: map[string]AdminEntry{}}
}

// Get implements AdminStore.
func (m *MemoryAdminStore) Get(ctx context.Context, id string) (AdminEntry, bool, error) {
	if err := checkID(id); err != nil {
		return AdminEntry{}, false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[id]
	if !ok || expired(e.Until, m.now()) {
		return AdminEntry{}, false, ctx.Err()
	}
	return clone(e), true, ctx.Err()
}

// Set implements AdminStore.
func (m *MemoryAdminStore) Set(ctx context.Context, e AdminEntry) error {
	if err := checkEntry(e); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if expired(e.Until, m.now()) {
		delete(m.entries, e.ID)
	} else {
		var buf bytes.Buffer
		_ = json.Compact(&buf, e.Record) // checkEntry parsed it
		e.Record = buf.Bytes()
		m.entries[e.ID] = e
	}
	m.rev++
	return nil
}

// Delete implements AdminStore.
func (m *MemoryAdminStore) Delete(ctx context.Context, id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.entries[id]; ok {
		delete(m.entries, id)
		m.rev++
	}
	return nil
}

// List implements AdminStore; it also forgets expired entries.
func (m *MemoryAdminStore) List(ctx context.Context) ([]AdminEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	out := make([]AdminEntry, 0, len(m.entries))
	for id, e := range m.entries {
		if expired(e.Until, now) {
			delete(m.entries, id)
			continue
		}
		out = append(out, clone(e))
	}
	sortByID(out)
	return out, nil
}

// Revision implements AdminStore.
func (m *MemoryAdminStore) Revision(ctx context.Context) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rev, ctx.Err()
}

func sortByID(es []AdminEntry) {
	slices.SortFunc(es, func(a, b AdminEntry) int { return strings.Compare(a.ID, b.ID) })
}
