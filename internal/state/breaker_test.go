package state

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// breakerLog records a breaker's transitions and rejections.
type breakerLog struct {
	mu          sync.Mutex
	transitions []string
	rejected    int
}

func (l *breakerLog) change(up bool, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if up {
		l.transitions = append(l.transitions, "up")
	} else {
		l.transitions = append(l.transitions, "down")
	}
}

func (l *breakerLog) reject() { l.mu.Lock(); l.rejected++; l.mu.Unlock() }

func (l *breakerLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprint(l.transitions)
}

// breakerClient is a client on a fresh miniredis with a breaker on a fake
// clock.
func breakerClient(t *testing.T) (*miniredis.Miniredis, redis.UniversalClient, *RedisBreaker, *fakeClock, *breakerLog) {
	t.Helper()
	m := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: m.Addr(), MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	clock, log := newFakeClock(), &breakerLog{}
	b := NewRedisBreaker(clock.Now, RedisBreakerSettings{}, log.change, log.reject)
	c.AddHook(b)
	return m, c, b, clock, log
}

// Redis stops, restarts on the same address: the first failure opens the
// breaker (one "down"), later commands fail fast without the network until
// the open period ends, then one command finds Redis back (one "up").
func TestRedisBreakerStopAndRestart(t *testing.T) {
	m, c, b, clock, log := breakerClient(t)
	ctx := context.Background()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	m.Close()
	if err := c.Get(ctx, "k").Err(); err == nil || errors.Is(err, ErrRedisUnavailable) {
		t.Fatalf("first command to a stopped Redis: %v, want a network error", err)
	}
	if b.Up() || log.String() != "[down]" {
		t.Fatalf("after the failure: up %v, transitions %s", b.Up(), log)
	}
	for range 5 {
		if err := c.Get(ctx, "k").Err(); !errors.Is(err, ErrRedisUnavailable) {
			t.Fatalf("while open: %v, want ErrRedisUnavailable", err)
		}
		if _, err := c.Pipelined(ctx, func(p redis.Pipeliner) error { p.Get(ctx, "k"); return nil }); !errors.Is(err, ErrRedisUnavailable) {
			t.Fatalf("pipeline while open: %v", err)
		}
	}
	if log.rejected != 10 {
		t.Errorf("rejected %d, want 10", log.rejected)
	}
	if err := m.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx, "k").Err(); !errors.Is(err, ErrRedisUnavailable) {
		t.Fatalf("Redis back but the breaker still open: %v", err)
	}
	clock.Advance(RedisBreakerOpenFor)
	if v, err := c.Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Fatalf("after the open period: %q, %v", v, err)
	}
	if !b.Up() || log.String() != "[down up]" {
		t.Fatalf("after recovery: up %v, transitions %s", b.Up(), log)
	}

	// A probe that fails keeps it open without another "down".
	m.Close()
	c.Get(ctx, "k")
	clock.Advance(RedisBreakerOpenFor)
	if err := c.Get(ctx, "k").Err(); err == nil || errors.Is(err, ErrRedisUnavailable) {
		t.Fatalf("probe to a stopped Redis: %v, want a network error", err)
	}
	if err := c.Get(ctx, "k").Err(); !errors.Is(err, ErrRedisUnavailable) {
		t.Fatalf("after a failed probe: %v, want fail fast", err)
	}
	if log.String() != "[down up down]" {
		t.Fatalf("transitions %s", log)
	}
}

// Half open, one command probes; the others fail fast until it ends.
func TestRedisBreakerOneProbe(t *testing.T) {
	clock, log := newFakeClock(), &breakerLog{}
	b := NewRedisBreaker(clock.Now, RedisBreakerSettings{}, log.change, log.reject)
	b.record(io.EOF, ordinaryCommand)
	if ok, _ := b.allow(); ok {
		t.Fatal("allowed while open")
	}
	clock.Advance(RedisBreakerOpenFor)
	if ok, probe := b.allow(); !ok || !probe {
		t.Fatal("no probe after the open period")
	}
	if ok, _ := b.allow(); ok {
		t.Fatal("a second command while the probe is in flight")
	}
	// The probe's caller gave up: no news, the next command probes.
	b.record(context.Canceled, probeCommand)
	if ok, probe := b.allow(); !ok || !probe {
		t.Fatal("no probe after a canceled one")
	}
	b.record(nil, probeCommand)
	if ok, probe := b.allow(); !b.Up() || !ok || probe || log.String() != "[down up]" {
		t.Fatalf("up %v transitions %s", b.Up(), log)
	}
}

// Answers about the data and a caller's cancellation leave it closed.
func TestRedisBreakerIgnoresAnswers(t *testing.T) {
	m, c, b, _, log := breakerClient(t)
	ctx := context.Background()
	m.Set("s", "x")
	if err := c.Get(ctx, "missing").Err(); !errors.Is(err, redis.Nil) {
		t.Fatal(err)
	}
	if err := c.LPush(ctx, "s", "y").Err(); err == nil {
		t.Fatal("WRONGTYPE expected")
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	c.Get(canceled, "s")
	if !b.Up() || log.String() != "[]" {
		t.Fatalf("up %v transitions %s", b.Up(), log)
	}
	for _, err := range []error{redis.ErrClosed, context.Canceled, redis.Nil} {
		if redisUnavailable(err) {
			t.Errorf("%v counted as unavailable", err)
		}
	}
	for _, err := range []error{io.EOF, context.DeadlineExceeded, errors.New("dial tcp: connection refused")} {
		if !redisUnavailable(err) {
			t.Errorf("%v not counted as unavailable", err)
		}
	}
}

// A caller whose context had less than MinBudget left (a Lua script at the
// end of its time) and ran out says nothing about Redis; a caller with a
// full budget that Redis did not answer in time does.
func TestRedisBreakerShortBudgetNotJudged(t *testing.T) {
	_, c, b, _, log := breakerClient(t)
	b.MinBudget = time.Hour
	short, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	<-short.Done()
	c.Get(short, "k")
	if !b.Up() || log.String() != "[]" {
		t.Fatalf("short budget judged: up %v transitions %s", b.Up(), log)
	}
	b.MinBudget = 0
	c.Get(short, "k")
	if b.Up() || log.String() != "[down]" {
		t.Fatalf("deadline with MinBudget 0: up %v transitions %s", b.Up(), log)
	}
}
