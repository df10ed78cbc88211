package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/state"
)

// sharedAdminInterval is how often an instance looks for admin changes
// other instances made: one GET of a counter, so "a drain is seen by every
// instance within one second" holds with room to spare.
const sharedAdminInterval = 500 * time.Millisecond

// adminSharer keeps the engine's admin overrides and a shared AdminStore
// in step. Local changes (the API, ctl, TTL expiry) are pushed; changes
// other instances pushed are pulled and replace the local view. All store
// I/O happens on the run goroutine, so a slow or dead Redis never holds an
// API request. With the store unreachable the instance keeps and serves
// its local state, logs once, and pushes what changed meanwhile when the
// store is back.
type adminSharer struct {
	engine *health.Engine
	store  state.AdminStore
	logger *slog.Logger
	up     prometheus.Gauge
	kick   chan struct{}

	// Only the run goroutine (or a test calling sync) touches these.
	// last is the store's content as of the last push or pull; before
	// the first pull it is the state the instance started with, so what
	// changed here before Redis first answered is pushed, not lost.
	last   []health.AdminRecord
	rev    uint64
	synced bool // one pull has succeeded
	down   bool
}

func newAdminSharer(engine *health.Engine, store state.AdminStore, logger *slog.Logger, reg prometheus.Registerer) *adminSharer {
	s := &adminSharer{engine: engine, store: store, logger: logger, kick: make(chan struct{}, 1),
		up: prometheus.NewGauge(prometheus.GaugeOpts{Name: "backline_state_redis_up",
			Help: "1 while shared state on storage.redis answers, 0 while this instance runs on its local state."})}
	if reg != nil {
		reg.MustRegister(s.up)
	}
	s.last = engine.AdminRecords()
	engine.OnAdminChange(func() {
		select {
		case s.kick <- struct{}{}:
		default: // a push is already due
		}
	})
	return s
}

// setupSharedAdmin connects the engine's admin state to storage.redis; nil
// without it. The client does not connect yet: a Redis that is down at
// start only means local state until it answers. guard bounds the replies
// the client reads (nauthilus_redis's "default" is this client).
func setupSharedAdmin(cfg *config.Config, engine *health.Engine, logger *slog.Logger, reg prometheus.Registerer, guard *state.ReplyGuard) (*adminSharer, redis.UniversalClient, error) {
	r := cfg.Storage.Redis
	if r == nil {
		return nil, nil, nil
	}
	client, err := state.NewGuardedRedisClient(r, guard)
	if err != nil {
		return nil, nil, err
	}
	if _, err := attachRedisBreaker(client, r, logger, reg); err != nil {
		client.Close()
		return nil, nil, err
	}
	store := state.NewRedisAdminStore(client, r.Prefix)
	log := logger.With("component", "shared-state")
	store.OnCorrupt = func(key string, err error) {
		log.Warn("unreadable admin entry in Redis skipped", "key", key, "error", err)
	}
	log.Info("admin state shared through Redis", "mode", r.Mode(), "prefix", r.Prefix)
	return newAdminSharer(engine, store, log, reg), client, nil
}

// run syncs at once, then every interval and after each local change,
// until ctx ends.
func (s *adminSharer) run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		s.sync(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.kick:
		}
	}
}

// sync pushes local changes, then pulls when the store's revision moved.
func (s *adminSharer) sync(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.syncOnce(ctx); err != nil {
		s.setDown(err)
		return
	}
	s.setUp()
}

func (s *adminSharer) syncOnce(ctx context.Context) error {
	if err := s.push(ctx, s.engine.AdminRecords()); err != nil {
		return err
	}
	rev, err := s.store.Revision(ctx)
	if err != nil {
		return err
	}
	if s.synced && rev == s.rev {
		return nil
	}
	list, err := s.store.List(ctx)
	if err != nil {
		return err
	}
	if rev == 0 && len(list) == 0 {
		// A Redis backline never wrote to, or one that lost its data (a
		// restart without persistence): it starts again from this
		// instance's state (its state file), not from nothing.
		s.synced = true
		s.last = nil
		return s.push(ctx, s.engine.AdminRecords())
	}
	remote := s.decode(list)
	applied, errs := s.engine.ReplaceAdmin(s.last, remote)
	for _, err := range errs {
		s.logger.Warn("admin entry from Redis not applied", "error", err)
	}
	if !applied {
		// A local change landed meanwhile; its kick pushes it, and the
		// next sync pulls.
		return nil
	}
	s.last, s.rev, s.synced = remote, rev, true
	return nil
}

// push writes the difference between cur and the last synced view.
func (s *adminSharer) push(ctx context.Context, cur []health.AdminRecord) error {
	now := time.Now()
	old := make(map[string]health.AdminRecord, len(s.last))
	for _, r := range s.last {
		old[r.ID] = r
	}
	for _, r := range cur {
		if o, ok := old[r.ID]; ok && health.SameAdminRecords([]health.AdminRecord{o}, []health.AdminRecord{r}, now) {
			delete(old, r.ID)
			continue
		}
		delete(old, r.ID)
		data, err := json.Marshal(r)
		if err != nil {
			return err
		}
		e := state.AdminEntry{ID: r.ID, Record: data}
		if r.Until != nil {
			e.Until = *r.Until
		}
		if err := s.store.Set(ctx, e); err != nil {
			return err
		}
	}
	for id, o := range old {
		if o.Until != nil && !now.Before(*o.Until) {
			continue // expired here and in Redis; another instance may have set it anew
		}
		if err := s.store.Delete(ctx, id); err != nil {
			return err
		}
	}
	s.last = cur
	return nil
}

// decode turns stored entries into records; the key's ID wins over the
// record's.
func (s *adminSharer) decode(list []state.AdminEntry) []health.AdminRecord {
	out := make([]health.AdminRecord, 0, len(list))
	for _, e := range list {
		var r health.AdminRecord
		if err := json.Unmarshal(e.Record, &r); err != nil {
			s.logger.Warn("admin entry from Redis not applied", "backend", e.ID, "error", err)
			continue
		}
		r.ID = e.ID
		out = append(out, r)
	}
	return out
}

func (s *adminSharer) setDown(err error) {
	s.up.Set(0)
	if !s.down {
		s.down = true
		s.logger.Warn("Redis unreachable: admin state stays local until it answers", "error", err)
	}
}

func (s *adminSharer) setUp() {
	s.up.Set(1)
	if s.down {
		s.down = false
		s.logger.Info("Redis answers again: admin state shared")
	}
}
