package health

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/backline/backline/internal/state"
)

// UptimeSaveEvery is how often the engine saves the uptime cells that
// changed and loads the history of backends that appeared. A crash loses
// at most this much of the uptime history; a stop saves first.
const UptimeSaveEvery = 30 * time.Second

// uptimeOpTimeout caps one save or load, so a hanging store never keeps a
// stop waiting long.
const uptimeOpTimeout = 5 * time.Second

// uptimeSaveBatch is how many backends one store call saves (or loads),
// each call with its own uptimeOpTimeout: after an hour without Redis, 10,000
// backends are 630,000 buckets, about 4 s on the fixture's Redis in one
// call; in batches, what was saved stays saved when a later batch fails.
const uptimeSaveBatch = 1000

// uptimeKeeper moves the engine's uptime rings to and from the store. One
// sync at a time (mu); its buffers are reused from sync to sync, so a
// steady state allocates little beyond what the store does.
type uptimeKeeper struct {
	store  state.UptimeStore
	logger *slog.Logger

	// kick asks for a sync before the next tick: a reload added backends
	// whose history may be in the store.
	kick chan struct{}

	mu      sync.Mutex
	buf     []state.UptimeBucket
	records []state.UptimeRecord
	taken   []takenCells
	failing bool // the last sync's store call failed (logged once)
}

type takenCells struct {
	ring  *uptimeRing
	dirty uptimeDirty
}

func newUptimeKeeper(store state.UptimeStore, logger *slog.Logger) *uptimeKeeper {
	return &uptimeKeeper{store: store, logger: logger, kick: make(chan struct{}, 1)}
}

// storable reports whether the store takes id (1..state.MaxIDLen bytes);
// a configuration's longer ID keeps its uptime in memory only, rather
// than failing every save.
func storable(id string) bool { return id != "" && len(id) <= state.MaxIDLen }

// installed is told that a generation was installed.
func (k *uptimeKeeper) installed() {
	select {
	case k.kick <- struct{}{}:
	default: // a sync is already due
	}
}

// UseUptimeStore keeps the uptime history in store instead of the
// process's memory (storage.redis: it outlives restarts and is shared).
// Call it before Run.
func (e *Engine) UseUptimeStore(store state.UptimeStore) error {
	if store == nil {
		return errors.New("health: UseUptimeStore without a store")
	}
	if e.running.Load() {
		return errors.New("health: UseUptimeStore after Run")
	}
	e.uptime = newUptimeKeeper(store, e.logger)
	return nil
}

// runUptime syncs at once (loading the history of every backend), then
// every UptimeSaveEvery until ctx ends. Run saves once more after its
// loops stopped.
func (e *Engine) runUptime(ctx context.Context) {
	t := time.NewTicker(UptimeSaveEvery)
	defer t.Stop()
	for {
		e.syncUptime(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-e.uptime.kick:
		}
	}
}

// saveUptimeAtStop is the last sync, on a context of its own (Run's has
// ended).
func (e *Engine) saveUptimeAtStop() {
	ctx, cancel := context.WithTimeout(context.Background(), uptimeOpTimeout)
	defer cancel()
	e.syncUptime(ctx)
}

// syncUptime loads the history of the current backends not loaded yet,
// then saves every cell changed since the last sync. Errors are logged
// (once until the store answers again); what a failed save took is saved
// at the next sync.
func (e *Engine) syncUptime(ctx context.Context) {
	k := e.uptime
	k.mu.Lock()
	defer k.mu.Unlock()
	gen := e.gen.Load()
	ok := k.load(ctx, gen, e.now()) && k.save(ctx, gen)
	switch {
	case !ok && ctx.Err() != nil:
		// stopping: not the store's fault
	case ok && k.failing:
		k.failing = false
		k.logger.Info("uptime history: the store answers again")
	}
}

func (k *uptimeKeeper) fail(what string, err error) {
	if !k.failing {
		k.failing = true
		k.logger.Warn("uptime history: "+what+" failed; counting locally until the store answers", "error", err)
	}
}

// load asks the store for the buckets of backends whose ring was not
// loaded for their ID and merges them in.
func (k *uptimeKeeper) load(ctx context.Context, gen *generation, now time.Time) bool {
	var ids []string
	for id, s := range gen.byID {
		if storable(id) && s.uptime.needsLoad(id) {
			ids = append(ids, id)
		}
	}
	found := 0
	defer func() {
		if found > 0 {
			// Said, since it is why a new process shows uptime at once.
			k.logger.Info("uptime history loaded from the store", "backends", found)
		}
	}()
	// In batches with a timeout each, as saves: what a batch loaded stays
	// loaded when a later one fails (a start with tens of thousands of
	// backends would otherwise time out, in full, at every sync).
	for from := 0; from < len(ids); from += uptimeSaveBatch {
		batch := ids[from:min(from+uptimeSaveBatch, len(ids))]
		cctx, cancel := context.WithTimeout(ctx, uptimeOpTimeout)
		got, err := k.store.Load(cctx, batch)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				k.fail("load", err)
			}
			return false
		}
		for _, id := range batch {
			gen.byID[id].uptime.merge(id, got[id], now)
			if len(got[id]) > 0 {
				found++
			}
		}
	}
	return true
}

// save hands every changed cell to the store in one call.
func (k *uptimeKeeper) save(ctx context.Context, gen *generation) bool {
	buf, records, taken := k.buf[:0], k.records[:0], k.taken[:0]
	for id, s := range gen.byID {
		if !storable(id) {
			continue
		}
		start := len(buf)
		var d uptimeDirty
		buf, d = s.uptime.collect(buf)
		if len(buf) > start { // taken[i] is what records[i] took
			records = append(records, state.UptimeRecord{ID: id, Buckets: buf[start:len(buf):len(buf)]})
			taken = append(taken, takenCells{&s.uptime, d})
		}
	}
	k.buf, k.records = buf, records
	defer func() {
		clear(taken) // drop the ring pointers: a removed backend's ring may go
		k.taken = taken[:0]
	}()
	if len(records) == 0 {
		return true
	}
	for from := 0; from < len(records); from += uptimeSaveBatch {
		to := min(from+uptimeSaveBatch, len(records))
		cctx, cancel := context.WithTimeout(ctx, uptimeOpTimeout)
		err := k.store.Save(cctx, records[from:to])
		cancel()
		if err != nil {
			for _, t := range taken[from:] {
				t.ring.redirty(t.dirty)
			}
			if ctx.Err() == nil {
				k.fail("save", err)
			}
			return false
		}
	}
	return true
}
