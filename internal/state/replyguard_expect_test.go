package state

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// guardedMiniredis is a one-connection client to a fresh miniredis, its
// connections and commands through g (dialer and hook, as nauthilus_redis
// uses the daemon's client).
func guardedMiniredis(t *testing.T, g *ReplyGuard) (*miniredis.Miniredis, *redis.Client) {
	t.Helper()
	m := miniredis.RunT(t)
	opt := &redis.Options{Addr: m.Addr(), PoolSize: 1}
	opt.Dialer = g.Dialer(redis.NewDialer(opt))
	c := redis.NewClient(opt)
	c.AddHook(g)
	t.Cleanup(func() { c.Close() })
	return m, c
}

// TestReplyGuardPerCommandLimit: a command sent with a smaller limit
// (WithReplyLimit, through the guard's hook) has a reply over it refused
// unread, naming that limit; the same reply without one passes (the
// guard's own limit is larger), so does a reply under it, and the
// connection stays usable. Nothing stays registered.
func TestReplyGuardPerCommandLimit(t *testing.T) {
	g := NewReplyGuard(1 << 20)
	m, c := guardedMiniredis(t, g)
	m.Set("big", strings.Repeat("x", 100<<10))
	m.Set("small", "fine")
	ctx := context.Background()
	tight := WithReplyLimit(ctx, 64<<10)

	err := c.Get(tight, "big").Err()
	size, limit, ok := IsReplyTooLarge(err)
	if !ok || limit != 64<<10 || size <= 64<<10 {
		t.Fatalf("GET big with a 64 KiB limit: err = %v (size %d, limit %d)", err, size, limit)
	}
	if v, err := c.Get(tight, "small").Result(); v != "fine" || err != nil {
		t.Errorf("GET small with a 64 KiB limit = %q, %v", v, err)
	}
	if v, err := c.Get(ctx, "big").Result(); len(v) != 100<<10 || err != nil {
		t.Errorf("GET big without a limit of its own: %d bytes, %v", len(v), err)
	}
	// A pipeline sent with the context: each reply is limited.
	pipe := c.Pipeline()
	small, big := pipe.Get(tight, "small"), pipe.Get(tight, "big")
	pipe.Exec(tight)
	if _, _, ok := IsReplyTooLarge(big.Err()); !ok || small.Val() != "fine" {
		t.Errorf("pipeline: small %q %v, big %v", small.Val(), small.Err(), big.Err())
	}
	if g.Refused() != 2 || g.exp.pending.Load() != 0 || len(g.exp.byHash) != 0 {
		t.Errorf("refused %d, %d expectations left", g.Refused(), g.exp.pending.Load())
	}
	// A limit at or above the guard's registers nothing.
	if e := g.Expect([]any{"get", "big"}, 1<<20); e.g != nil || g.exp.pending.Load() != 0 {
		t.Error("a limit not below the guard's was registered")
	}
}

// TestReplyGuardExpectMatchesGoRedisEncoding: Expect hashes arguments of
// every type nauthilus_redis passes as go-redis writes them (the tiny
// limit refuses MGET's reply only when the hash matched); a type it does
// not cover registers nothing.
func TestReplyGuardExpectMatchesGoRedisEncoding(t *testing.T) {
	g := NewReplyGuard(1 << 20)
	_, c := guardedMiniredis(t, g)
	ctx := context.Background()
	args := []any{"mget", "k", 12, int8(-3), int16(4), int32(5), int64(-6), uint(7), uint8(8), uint16(9), uint32(10), uint64(11),
		2.5, float32(0.1), true, false, 1500 * time.Millisecond, []byte("b"), nil, "ü\r\n"}
	e := g.Expect(args, 16)
	err := c.Do(ctx, args...).Err()
	e.Release()
	if _, limit, ok := IsReplyTooLarge(err); !ok || limit != 16 {
		t.Fatalf("MGET with every argument type: err = %v; the hash did not match what go-redis wrote", err)
	}
	if e := g.Expect([]any{"get", &struct{}{}}, 16); e.g != nil {
		t.Error("an argument of an unknown type was registered")
	}
	if err := c.Do(ctx, args...).Err(); err != nil {
		t.Errorf("after Release: %v", err)
	}
	// Another content registered: the command does not match it.
	other := append([]any{}, args...)
	other[2] = 13
	e = g.Expect(other, 16)
	defer e.Release()
	if err := c.Do(ctx, args...).Err(); err != nil {
		t.Errorf("with a different command registered: %v", err)
	}
}

// TestReplyGuardIdenticalCommandsGetTheLargestLimit: two callers send the
// same command with different limits at once; the wire cannot tell their
// replies apart, so each gets the larger limit (no caller is refused a
// reply it could hold). Releasing one leaves the other's.
func TestReplyGuardIdenticalCommandsGetTheLargestLimit(t *testing.T) {
	g := NewReplyGuard(1 << 20)
	m, c := guardedMiniredis(t, g)
	m.Set("mid", strings.Repeat("x", 32<<10))
	args := []any{"get", "mid"}
	low, high := g.Expect(args, 16<<10), g.Expect(args, 64<<10)
	if err := c.Do(context.Background(), args...).Err(); err != nil {
		t.Errorf("with limits of 16 and 64 KiB registered: %v", err)
	}
	high.Release()
	if _, limit, ok := IsReplyTooLarge(c.Do(context.Background(), args...).Err()); !ok || limit != 16<<10 {
		t.Errorf("with 16 KiB left: limit %d, refused %v", limit, ok)
	}
	low.Release()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { g.Expect(args, 8<<10).Release() })
	}
	wg.Wait()
	if g.exp.pending.Load() != 0 || len(g.exp.byHash) != 0 {
		t.Errorf("%d expectations left", g.exp.pending.Load())
	}
}
