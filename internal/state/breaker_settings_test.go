package state

import (
	"context"
	"errors"
	"io"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// settingsBreaker is a breaker with settings s on a fake clock.
func settingsBreaker(s RedisBreakerSettings) (*RedisBreaker, *fakeClock, *breakerLog) {
	clock, log := newFakeClock(), &breakerLog{}
	return NewRedisBreaker(clock.Now, s, log.change, log.reject), clock, log
}

// wantAdmit checks what the breaker decides for the next command now.
func wantAdmit(t *testing.T, b *RedisBreaker, ok, probe bool, when string) {
	t.Helper()
	gotOK, gotProbe := b.allow()
	if gotOK != ok || gotProbe != probe {
		t.Fatalf("%s: allow() = %v, probe %v; want %v, probe %v", when, gotOK, gotProbe, ok, probe)
	}
}

// The zero settings are the behaviour before the settings existed: one
// failure opens it, for one second each time, however often probes fail.
func TestRedisBreakerDefaultSettingsUnchanged(t *testing.T) {
	got := RedisBreakerSettings{}.withDefaults()
	want := RedisBreakerSettings{ConsecutiveFailures: 1, OpenTime: time.Second, MaxOpenTime: time.Second}
	if got != want {
		t.Fatalf("defaults %+v, want %+v", got, want)
	}
	for _, n := range []int{0, 1, 2, 10, math.MaxInt} {
		if p := got.openPeriod(n); p != time.Second {
			t.Errorf("open period %d = %v, want 1s", n, p)
		}
	}
	b, clock, log := settingsBreaker(RedisBreakerSettings{})
	b.record(io.EOF, ordinaryCommand)
	for range 5 {
		wantAdmit(t, b, false, false, "open")
		clock.Advance(time.Second)
		wantAdmit(t, b, true, true, "after 1s")
		b.record(io.EOF, probeCommand)
	}
	if log.String() != "[down]" {
		t.Fatalf("transitions %s", log)
	}
}

// A negative or too small max_open_time means "never grows"; huge counts
// and durations do not overflow.
func TestRedisBreakerOpenPeriodBounds(t *testing.T) {
	for _, c := range []struct {
		s    RedisBreakerSettings
		n    int
		want time.Duration
	}{
		{RedisBreakerSettings{OpenTime: 2 * time.Second, MaxOpenTime: time.Second}, 5, 2 * time.Second},
		{RedisBreakerSettings{OpenTime: -time.Second, MaxOpenTime: -time.Second}, 3, time.Second},
		{RedisBreakerSettings{OpenTime: time.Second, MaxOpenTime: time.Hour}, math.MaxInt, time.Hour},
		{RedisBreakerSettings{OpenTime: time.Second, MaxOpenTime: time.Hour}, 3599, 3599 * time.Second},
		{RedisBreakerSettings{OpenTime: time.Nanosecond, MaxOpenTime: math.MaxInt64}, math.MaxInt, math.MaxInt64},
		{RedisBreakerSettings{OpenTime: 3 * time.Second, MaxOpenTime: math.MaxInt64}, math.MaxInt64 / 2, math.MaxInt64},
		{RedisBreakerSettings{OpenTime: time.Second, MaxOpenTime: 10 * time.Second}, -4, time.Second},
	} {
		if got := c.s.withDefaults().openPeriod(c.n); got != c.want {
			t.Errorf("%+v period %d = %v, want %v", c.s, c.n, got, c.want)
		}
	}
}

// consecutive_failures 3: two failures and an answer leave it closed; three
// failures in a row open it. Data answers (redis.Nil) count as answers, a
// caller's cancellation neither counts nor ends the streak.
func TestRedisBreakerConsecutiveFailures(t *testing.T) {
	b, clock, log := settingsBreaker(RedisBreakerSettings{ConsecutiveFailures: 3})
	b.record(io.EOF, ordinaryCommand)
	b.record(io.EOF, ordinaryCommand)
	b.record(redis.Nil, ordinaryCommand)
	b.record(io.EOF, ordinaryCommand)
	b.record(context.Canceled, ordinaryCommand)
	b.record(io.EOF, ordinaryCommand)
	if !b.Up() || log.String() != "[]" {
		t.Fatalf("opened before three failures in a row: %s", log)
	}
	b.record(context.DeadlineExceeded, ordinaryCommand)
	if b.Up() || log.String() != "[down]" {
		t.Fatalf("not open after three failures in a row: %s", log)
	}
	// Failures of commands sent before it opened change nothing.
	b.record(io.EOF, ordinaryCommand)
	clock.Advance(time.Second)
	wantAdmit(t, b, true, true, "after open_time")
	b.record(nil, probeCommand)
	// Closed again, the count starts over: two failures do not open it.
	b.record(io.EOF, ordinaryCommand)
	b.record(io.EOF, ordinaryCommand)
	if !b.Up() || log.String() != "[down up]" {
		t.Fatalf("after closing: up %v transitions %s", b.Up(), log)
	}
}

// Each failed probe in a row lengthens the open period by open_time, up to
// max_open_time; a success closes it and the next opening starts at
// open_time again.
func TestRedisBreakerBackoffCapped(t *testing.T) {
	b, clock, log := settingsBreaker(RedisBreakerSettings{OpenTime: time.Second, MaxOpenTime: 3500 * time.Millisecond})
	b.record(io.EOF, ordinaryCommand)
	for i, period := range []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 3500 * time.Millisecond, 3500 * time.Millisecond} {
		clock.Advance(period - time.Millisecond)
		wantAdmit(t, b, false, false, "1ms before the period ends")
		clock.Advance(time.Millisecond)
		wantAdmit(t, b, true, true, "when the period ends")
		if i < 4 {
			b.record(io.EOF, probeCommand)
		}
	}
	b.record(nil, probeCommand)
	if !b.Up() || log.String() != "[down up]" {
		t.Fatalf("up %v transitions %s", b.Up(), log)
	}
	b.record(io.EOF, ordinaryCommand)
	clock.Advance(time.Second)
	wantAdmit(t, b, true, true, "after reopening: open_time again")
}

// A failure of a command sent before the breaker opened does not lengthen
// the period (only probes do), and a cancellation of such a command does
// not free the probe's place.
func TestRedisBreakerOnlyTheProbeMovesTheOpenPeriod(t *testing.T) {
	b, clock, log := settingsBreaker(RedisBreakerSettings{OpenTime: time.Second, MaxOpenTime: 10 * time.Second})
	b.record(io.EOF, ordinaryCommand)
	clock.Advance(900 * time.Millisecond)
	b.record(io.EOF, ordinaryCommand) // in flight when it opened
	clock.Advance(100 * time.Millisecond)
	wantAdmit(t, b, true, true, "1s after opening")
	b.record(context.Canceled, ordinaryCommand) // another straggler gives up
	wantAdmit(t, b, false, false, "probe still in flight")
	b.record(io.EOF, probeCommand)
	clock.Advance(time.Second)
	wantAdmit(t, b, false, false, "second period is 2s")
	clock.Advance(time.Second)
	wantAdmit(t, b, true, true, "2s after the failed probe")
	if log.String() != "[down]" || log.rejected != 2 {
		t.Fatalf("transitions %s rejected %d", log, log.rejected)
	}
}

// Through go-redis: with consecutive_failures 2 and a stopped Redis, the
// first failed command leaves the breaker closed (the second still goes
// to the network), the second opens it; a failed probe doubles the wait.
func TestRedisBreakerSettingsThroughTheClient(t *testing.T) {
	m := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: m.Addr(), MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	clock, log := newFakeClock(), &breakerLog{}
	b := NewRedisBreaker(clock.Now, RedisBreakerSettings{ConsecutiveFailures: 2, OpenTime: time.Second, MaxOpenTime: 5 * time.Second}, log.change, log.reject)
	c.AddHook(b)
	ctx := context.Background()
	m.Close()
	for i := range 2 {
		if err := c.Get(ctx, "k").Err(); err == nil || errors.Is(err, ErrRedisUnavailable) {
			t.Fatalf("command %d to a stopped Redis: %v, want a network error", i, err)
		}
		if up := b.Up(); up != (i == 0) {
			t.Fatalf("after failure %d: up %v", i+1, up)
		}
	}
	if err := c.Get(ctx, "k").Err(); !errors.Is(err, ErrRedisUnavailable) {
		t.Fatalf("open: %v", err)
	}
	clock.Advance(time.Second)
	if err := c.Get(ctx, "k").Err(); err == nil || errors.Is(err, ErrRedisUnavailable) {
		t.Fatalf("probe: %v, want a network error", err)
	}
	clock.Advance(time.Second)
	if err := c.Get(ctx, "k").Err(); !errors.Is(err, ErrRedisUnavailable) {
		t.Fatalf("1s after a failed probe: %v, want fail fast (period 2s)", err)
	}
	if err := m.Restart(); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("probe after 2s with Redis back: %v", err)
	}
	if !b.Up() || log.String() != "[down up]" || log.rejected != 2 {
		t.Fatalf("up %v transitions %s rejected %d", b.Up(), log, log.rejected)
	}
}

// Concurrent commands of every kind, with failures and answers mixed: the
// transitions still alternate (down, up, down, ...), each reported once,
// and the race detector finds nothing (go test -race).
func TestRedisBreakerConcurrentOutcomesAlternate(t *testing.T) {
	clock, log := newFakeClock(), &breakerLog{}
	b := NewRedisBreaker(clock.Now, RedisBreakerSettings{ConsecutiveFailures: 2, OpenTime: time.Millisecond, MaxOpenTime: 4 * time.Millisecond}, log.change, log.reject)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				ok, probe := b.allow()
				kind := ordinaryCommand
				switch {
				case probe:
					kind = probeCommand
				case !ok:
					continue
				case (g+i)%5 == 0:
					kind = setupCommand
				}
				var err error
				if (g*7+i)%3 != 0 {
					err = io.EOF
				}
				b.record(err, kind)
				if i%50 == 0 {
					clock.Advance(time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	log.mu.Lock()
	defer log.mu.Unlock()
	if len(log.transitions) == 0 {
		t.Fatal("never opened")
	}
	for i, tr := range log.transitions {
		if want := []string{"down", "up"}[i%2]; tr != want {
			t.Fatalf("transition %d is %s, want %s: %v", i, tr, want, log.transitions)
		}
	}
}
