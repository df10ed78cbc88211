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
// outlive the process. Per backend it holds two rings of 12-byte cells,
// one per minute of UptimeMinutesKept and one per hour of
// UptimeHoursKept: about 3.5 KB.
type MemoryUptimeStore struct {
	now func() time.Time

	mu        sync.Mutex
	backends  map[string]*memoryUptime
	lastSweep time.Time
}

const (
	memoryMinuteCells = int64(UptimeMinutesKept / time.Minute)
	memoryHourCells   = int64(UptimeHoursKept / time.Hour)
)

// memoryUptime is one backend's kept buckets, each ring indexed by its
// Unix minute (hour) modulo the ring's length.
type memoryUptime struct {
	minutes [memoryMinuteCells]memoryUptimeCell
	hours   [memoryHourCells]memoryUptimeCell
}

type memoryUptimeCell struct {
	slot     int32 // Unix minute or hour; 0: empty
	up, down uint32
}

// uptimeSweepEvery is how often Save drops backends whose buckets are all
// past retention.
const uptimeSweepEvery = 10 * time.Minute

// NewMemoryUptimeStore returns an empty store; now is the clock (nil:
// time.Now).
func NewMemoryUptimeStore(now func() time.Time) *MemoryUptimeStore {
	if now == nil {
		now = time.Now
	}
	return &MemoryUptimeStore{now: now, backends: map[string]*memoryUptime{}}
}

// cell is where b goes in u.
func (u *memoryUptime) cell(b UptimeBucket) (*memoryUptimeCell, int32) {
	if b.Span == time.Minute {
		s := b.Start.Unix() / 60
		return &u.minutes[s%memoryMinuteCells], int32(s)
	}
	s := b.Start.Unix() / 3600
	return &u.hours[s%memoryHourCells], int32(s)
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
		u := m.backends[r.ID]
		for _, b := range r.Buckets {
			if !uptimeLive(b, now) {
				continue
			}
			if u == nil {
				u = &memoryUptime{}
				m.backends[r.ID] = u
			}
			c, slot := u.cell(b)
			up, down := uint32(b.Up.Milliseconds()), uint32(b.Down.Milliseconds())
			if c.slot < slot || (c.slot == slot && up+down > c.up+c.down) {
				*c = memoryUptimeCell{slot: slot, up: up, down: down}
			}
		}
	}
	if now.Sub(m.lastSweep) >= uptimeSweepEvery {
		m.lastSweep = now
		for id, u := range m.backends {
			if len(u.live(now, nil)) == 0 {
				delete(m.backends, id)
			}
		}
	}
	return nil
}

// live appends u's buckets within retention at now to out.
func (u *memoryUptime) live(now time.Time, out []UptimeBucket) []UptimeBucket {
	add := func(cells []memoryUptimeCell, span time.Duration) {
		for _, c := range cells {
			if c.slot == 0 {
				continue
			}
			b := UptimeBucket{Start: time.Unix(int64(c.slot)*int64(span/time.Second), 0).UTC(), Span: span,
				Up: time.Duration(c.up) * time.Millisecond, Down: time.Duration(c.down) * time.Millisecond}
			if uptimeLive(b, now) && b.Checked() > 0 {
				out = append(out, b)
			}
		}
	}
	add(u.minutes[:], time.Minute)
	add(u.hours[:], time.Hour)
	return out
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
		u := m.backends[id]
		if u == nil {
			continue
		}
		if list := u.live(now, nil); len(list) > 0 {
			out[id] = list
		} else {
			delete(m.backends, id)
		}
	}
	return out, nil
}
