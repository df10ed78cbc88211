package state

import (
	"context"
	"sync"
	"time"
)

// MemoryUptimeStore is the embedded UptimeStore: one process's history.
// The engine's own counters already outlive a reload; this store gives a
// backend removed and added back (same ID) its week back, and forgets a
// removed backend once its buckets are past retention. It does not
// outlive the process.
type MemoryUptimeStore struct {
	now func() time.Time

	mu        sync.Mutex
	backends  map[string]map[uptimeSlot]UptimeBucket
	lastSweep time.Time
}

// uptimeSlot names a bucket within one backend.
type uptimeSlot struct {
	span  time.Duration
	start int64 // Unix milliseconds
}

// uptimeSweepEvery is how often Save drops the expired buckets of every
// backend (those of backends still saved are dropped as they are saved).
const uptimeSweepEvery = 10 * time.Minute

// NewMemoryUptimeStore returns an empty store; now is the clock (nil:
// time.Now).
func NewMemoryUptimeStore(now func() time.Time) *MemoryUptimeStore {
	if now == nil {
		now = time.Now
	}
	return &MemoryUptimeStore{now: now, backends: map[string]map[uptimeSlot]UptimeBucket{}}
}

// Save implements UptimeStore.
func (m *MemoryUptimeStore) Save(ctx context.Context, records []UptimeRecord) error {
	if err := checkUptimeRecords(records); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	for _, r := range records {
		kept := m.backends[r.ID]
		for _, b := range r.Buckets {
			if !uptimeLive(b, now) {
				continue
			}
			if kept == nil {
				kept = map[uptimeSlot]UptimeBucket{}
				m.backends[r.ID] = kept
			}
			slot := uptimeSlot{b.Span, b.Start.UnixMilli()}
			if old, ok := kept[slot]; !ok || b.Checked() > old.Checked() {
				b.Start = b.Start.UTC()
				kept[slot] = b
			}
		}
	}
	if now.Sub(m.lastSweep) >= uptimeSweepEvery {
		m.lastSweep = now
		for id := range m.backends {
			m.prune(id, now)
		}
	}
	return nil
}

// prune drops id's expired buckets, and id when none is left.
func (m *MemoryUptimeStore) prune(id string, now time.Time) {
	kept := m.backends[id]
	for slot, b := range kept {
		if !uptimeLive(b, now) {
			delete(kept, slot)
		}
	}
	if len(kept) == 0 {
		delete(m.backends, id)
	}
}

// Load implements UptimeStore.
func (m *MemoryUptimeStore) Load(ctx context.Context, ids []string) (map[string][]UptimeBucket, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	out := map[string][]UptimeBucket{}
	for _, id := range ids {
		m.prune(id, now)
		kept := m.backends[id]
		if len(kept) == 0 {
			continue
		}
		list := make([]UptimeBucket, 0, len(kept))
		for _, b := range kept {
			list = append(list, b)
		}
		out[id] = list
	}
	return out, nil
}
