package main

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/state"
)

// sharedInstance is one backline's engine and sharer on addr.
type sharedInstance struct {
	engine *health.Engine
	sharer *adminSharer
	logs   *syncBuffer
}

func newSharedInstance(t *testing.T, addr string, restored ...health.AdminState) *sharedInstance {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialerRetries: 1})
	t.Cleanup(func() { c.Close() })
	logs := &syncBuffer{}
	e := adminEngine(t)
	for _, st := range restored { // as setupAdminState restores the state file, before sharing starts
		setState(t, e, st)
	}
	s := newAdminSharer(e, state.NewRedisAdminStore(c, "backline:"), slog.New(slog.NewTextHandler(logs, nil)), prometheus.NewRegistry())
	return &sharedInstance{engine: e, sharer: s, logs: logs}
}

func (i *sharedInstance) state(t *testing.T) health.AdminState {
	t.Helper()
	a, ok := i.engine.GetAdmin("mbox03")
	if !ok {
		t.Fatal("mbox03 unknown")
	}
	return a.State
}

func setState(t *testing.T, e *health.Engine, st health.AdminState) {
	t.Helper()
	if _, err := e.SetAdmin("mbox03", health.AdminChange{State: &st, Who: "ops"}); err != nil {
		t.Fatal(err)
	}
}

// TestSharedAdminDrainSeenByOthers: a drain on one instance reaches the
// other at its next sync; a reset travels back.
func TestSharedAdminDrainSeenByOthers(t *testing.T) {
	m := miniredis.RunT(t)
	ctx := context.Background()
	a, b := newSharedInstance(t, m.Addr()), newSharedInstance(t, m.Addr())
	a.sharer.sync(ctx)
	b.sharer.sync(ctx)

	setState(t, a.engine, health.AdminDrain)
	a.sharer.sync(ctx)
	b.sharer.sync(ctx)
	if st := b.state(t); st != health.AdminDrain {
		t.Fatalf("b sees %q, want drain", st)
	}
	if snap := b.engine.Snapshot().Backends[0]; snap.Eligible {
		t.Error("b's snapshot still hands out the drained backend")
	}
	if _, err := b.engine.ResetAdmin("mbox03"); err != nil {
		t.Fatal(err)
	}
	b.sharer.sync(ctx)
	a.sharer.sync(ctx)
	if st := a.state(t); st != health.AdminReady {
		t.Fatalf("a sees %q after b's reset", st)
	}
	if v := gaugeValue(t, a.sharer.up); v != 1 {
		t.Errorf("backline_state_redis_up = %v", v)
	}
}

// TestSharedAdminRunLoop: with the real loop, a drain on one instance is
// seen by the other (the deadline only bounds a hang; the loop polls every
// sharedAdminInterval).
func TestSharedAdminRunLoop(t *testing.T) {
	m := miniredis.RunT(t)
	ctx, cancel := context.WithCancel(context.Background())
	a, b := newSharedInstance(t, m.Addr()), newSharedInstance(t, m.Addr())
	var wg sync.WaitGroup
	wg.Go(func() { a.sharer.run(ctx, sharedAdminInterval) })
	wg.Go(func() { b.sharer.run(ctx, sharedAdminInterval) })
	defer func() { cancel(); wg.Wait() }()
	setState(t, a.engine, health.AdminMaint)
	deadline := time.Now().Add(10 * time.Second)
	for b.state(t) != health.AdminMaint {
		if time.Now().After(deadline) {
			t.Fatal("b never saw a's maint")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSharedAdminRedisDown: Redis stops; a change stays local, the outage is
// logged once, the gauge says 0; when Redis is back the change is pushed
// and the others see it.
func TestSharedAdminRedisDown(t *testing.T) {
	m := miniredis.RunT(t)
	ctx := context.Background()
	a, b := newSharedInstance(t, m.Addr()), newSharedInstance(t, m.Addr())
	a.sharer.sync(ctx)
	b.sharer.sync(ctx)

	m.Close()
	setState(t, a.engine, health.AdminMaint)
	a.sharer.sync(ctx)
	a.sharer.sync(ctx)
	if st := a.state(t); st != health.AdminMaint {
		t.Fatalf("local change lost with Redis down: %q", st)
	}
	if v := gaugeValue(t, a.sharer.up); v != 0 {
		t.Errorf("backline_state_redis_up = %v with Redis down", v)
	}
	if n := strings.Count(a.logs.String(), "Redis unreachable"); n != 1 {
		t.Errorf("outage logged %d times, want once:\n%s", n, a.logs)
	}

	if err := m.Restart(); err != nil {
		t.Fatal(err)
	}
	a.sharer.sync(ctx)
	b.sharer.sync(ctx)
	if st := b.state(t); st != health.AdminMaint {
		t.Errorf("b sees %q after Redis came back, want maint", st)
	}
	if v := gaugeValue(t, a.sharer.up); v != 1 || !strings.Contains(a.logs.String(), "Redis answers again") {
		t.Errorf("recovery: gauge %v, logs:\n%s", v, a.logs)
	}
}

// TestSharedAdminFirstStart: a Redis backline never wrote to takes the
// first instance's state (from its state file); one that has state gives
// it to a newly started instance.
func TestSharedAdminFirstStart(t *testing.T) {
	m := miniredis.RunT(t)
	ctx := context.Background()
	a := newSharedInstance(t, m.Addr(), health.AdminDrain)
	a.sharer.sync(ctx)
	b := newSharedInstance(t, m.Addr(), health.AdminMaint) // its own, older file
	b.sharer.sync(ctx)
	if st := b.state(t); st != health.AdminDrain {
		t.Errorf("new instance kept %q, want Redis's drain", st)
	}
}

// TestSharedAdminRedisLostItsData: a Redis restarted without persistence
// gets the instances' state back instead of clearing every drain.
func TestSharedAdminRedisLostItsData(t *testing.T) {
	m := miniredis.RunT(t)
	ctx := context.Background()
	a, b := newSharedInstance(t, m.Addr()), newSharedInstance(t, m.Addr())
	setState(t, a.engine, health.AdminDrain)
	a.sharer.sync(ctx)
	b.sharer.sync(ctx)
	m.FlushAll()
	b.sharer.sync(ctx)
	a.sharer.sync(ctx)
	if sa, sb := a.state(t), b.state(t); sa != health.AdminDrain || sb != health.AdminDrain {
		t.Fatalf("after the flush: a %q, b %q, want drain", sa, sb)
	}
	if !m.Exists("backline:{admin}:e:mbox03") {
		t.Errorf("state not written back; keys: %v", m.Keys())
	}
}

// TestSharedAdminDownAtStart: Redis does not answer when an instance
// starts; a change taken then is pushed when it answers, the rest of the
// instance's start state gives way to Redis's.
func TestSharedAdminDownAtStart(t *testing.T) {
	m := miniredis.RunT(t)
	ctx := context.Background()
	a := newSharedInstance(t, m.Addr())
	weight := 7
	if _, err := a.engine.SetAdmin("mbox03", health.AdminChange{Weight: &weight, Who: "ops"}); err != nil {
		t.Fatal(err)
	}
	a.sharer.sync(ctx)

	b := newSharedInstance(t, m.Addr())
	m.Close()
	setState(t, b.engine, health.AdminMaint)
	b.sharer.sync(ctx)
	if err := m.Restart(); err != nil {
		t.Fatal(err)
	}
	b.sharer.sync(ctx)
	a.sharer.sync(ctx)
	for name, i := range map[string]*sharedInstance{"a": a, "b": b} {
		if ad, _ := i.engine.GetAdmin("mbox03"); ad.State != health.AdminMaint {
			t.Errorf("%s: %+v, want b's maint", name, ad)
		}
	}
}

// TestSharedAdminFromConfig: storage.redis builds the sharer; a wrong
// password is reported without the password.
func TestSharedAdminFromConfig(t *testing.T) {
	const secret = "Uq7-shared-secret-31c2"
	m := miniredis.RunT(t)
	m.RequireAuth("another")
	cfg, err := config.Parse([]byte("storage:\n  redis:\n    primary:\n      address: " + m.Addr() + "\n      password: " + secret + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	s, client, err := setupSharedAdmin(cfg, adminEngine(t), slog.New(slog.NewTextHandler(logs, nil)), prometheus.NewRegistry(), nil)
	if err != nil || s == nil {
		t.Fatalf("setup: %v", err)
	}
	defer client.Close()
	s.sync(context.Background())
	if !strings.Contains(logs.String(), "Redis unreachable") || strings.Contains(logs.String(), secret) {
		t.Errorf("logs:\n%s", logs)
	}
	if s, c, err := setupSharedAdmin(&config.Config{}, adminEngine(t), slog.Default(), nil, nil); s != nil || c != nil || err != nil {
		t.Errorf("without storage.redis: %v %v %v", s, c, err)
	}
}

func gaugeValue(t *testing.T, g prometheus.Gauge) float64 {
	t.Helper()
	var m dto.Metric
	if err := g.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetGauge().GetValue()
}

// TestReloadRefusesStorageChange: the Redis client is built once; a reload
// that changes storage.redis is refused without printing its passwords.
func TestReloadRefusesStorageChange(t *testing.T) {
	parse := func(pw string) *config.Config {
		c, err := config.Parse([]byte("storage:\n  redis:\n    primary:\n      address: 127.0.0.1:6379\n      password: " + pw + "\n"))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	d := &daemon{opts: daemonOptions{level: new(slog.LevelVar)}}
	if errs := d.restartOnly(parse("old-secret"), parse("old-secret")); len(errs) != 0 {
		t.Errorf("unchanged: %q", errs)
	}
	errs := d.restartOnly(parse("old-secret"), parse("new-secret"))
	if len(errs) != 1 || !strings.Contains(errs[0], "storage.redis (line 2): changed") ||
		strings.Contains(errs[0], "secret") {
		t.Errorf("changed: %q", errs)
	}
	empty, err := config.Parse(nil)
	if err != nil {
		t.Fatal(err)
	}
	if errs := d.restartOnly(parse("old-secret"), empty); len(errs) != 1 {
		t.Errorf("removed: %q", errs)
	}
}
