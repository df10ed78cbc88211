package state

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrRedisUnavailable is what a command gets, at once and without touching
// the network, while a RedisBreaker is open.
var ErrRedisUnavailable = errors.New("redis unavailable (circuit breaker open)")

// RedisBreakerOpenFor is how long a breaker fails commands fast after a
// failure before it lets one command through to try Redis again.
const RedisBreakerOpenFor = time.Second

// RedisBreaker is a circuit breaker for one go-redis client (attach it with
// client.AddHook(b)). Closed, every command goes to Redis. A command that
// fails because Redis cannot serve (dial or read error, timeout, LOADING,
// READONLY, ...) opens it: for openFor every command fails at once with
// ErrRedisUnavailable, so a dead Redis costs a login nothing instead of a
// dial or read timeout each. Then exactly one command is let through (half
// open): its success closes the breaker, its failure opens it again.
//
// Answers about the data (redis.Nil, WRONGTYPE, a script error) and a
// caller that gave up (context.Canceled) say nothing about Redis and leave
// the breaker as it is. One breaker on the shared client serves every
// store on it (auth cache, affinity, admin state, probe leases).
type RedisBreaker struct {
	now     func() time.Time
	openFor time.Duration
	// onChange hears each transition (up false: opened, with the error;
	// up true: closed again), once, in order.
	onChange func(up bool, err error)
	// onReject hears each command failed fast.
	onReject func()

	// MinBudget: a command whose caller's context had less time left than
	// this when it started and ran out is not judged (a Lua script at the
	// end of its budget says nothing about Redis). Set it before use, to
	// storage.redis.read_timeout; 0 judges every command.
	MinBudget time.Duration

	open atomic.Bool // the hot path reads only this while Redis is fine

	mu      sync.Mutex
	retryAt time.Time
	probing bool // the half-open command is in flight
}

// NewRedisBreaker returns a closed breaker on clock now (nil: time.Now);
// onChange and onReject may be nil.
func NewRedisBreaker(now func() time.Time, openFor time.Duration, onChange func(up bool, err error), onReject func()) *RedisBreaker {
	if now == nil {
		now = time.Now
	}
	if openFor <= 0 {
		openFor = RedisBreakerOpenFor
	}
	return &RedisBreaker{now: now, openFor: openFor, onChange: onChange, onReject: onReject}
}

// Up reports whether the breaker is closed (Redis answered last).
func (b *RedisBreaker) Up() bool { return !b.open.Load() }

// allow reports whether a command may go to Redis now; probe is true for
// the one command let through while open.
func (b *RedisBreaker) allow() (ok, probe bool) {
	if !b.open.Load() {
		return true, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.open.Load() {
		return true, false
	}
	if b.probing || b.now().Before(b.retryAt) {
		if b.onReject != nil {
			b.onReject()
		}
		return false, false
	}
	b.probing = true
	return true, true
}

// probeKey marks the context of the half-open command: go-redis runs the
// commands that set up a new connection (HELLO, CLIENT SETINFO) through
// the same hooks with that context, and they belong to the probe.
type probeKey struct{}

// admit is allow for a command on ctx, with the context to run it on and
// whether its outcome is judged.
func (b *RedisBreaker) admit(ctx context.Context) (context.Context, bool, bool) {
	if ctx.Value(probeKey{}) == b {
		return ctx, true, false // part of the probe: not judged on its own
	}
	ok, probe := b.allow()
	if probe {
		ctx = context.WithValue(ctx, probeKey{}, b)
	}
	return ctx, ok, true
}

// done judges a command's outcome unless the caller's short budget, not
// Redis, ended it.
func (b *RedisBreaker) done(ctx context.Context, started time.Time, err error) {
	if err != nil && b.MinBudget > 0 && ctx.Err() != nil {
		if deadline, ok := ctx.Deadline(); ok && deadline.Sub(started) < b.MinBudget {
			b.record(context.Canceled) // no news; frees a probe
			return
		}
	}
	b.record(err)
}

// record takes the outcome of a command allow let through.
func (b *RedisBreaker) record(err error) {
	failed := redisUnavailable(err)
	if !failed && !b.open.Load() {
		return // the hot path: no lock
	}
	if !failed && !countsAsSuccess(err) {
		// The caller gave up or closed the client: no news. A half-open
		// probe ending so lets the next command try.
		b.mu.Lock()
		b.probing = false
		b.mu.Unlock()
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.probing = false
	if failed {
		b.retryAt = b.now().Add(b.openFor)
		if !b.open.Swap(true) && b.onChange != nil {
			b.onChange(false, err)
		}
		return
	}
	if b.open.Swap(false) && b.onChange != nil {
		b.onChange(true, nil)
	}
}

// countsAsSuccess: Redis answered (possibly with an error about the data).
func countsAsSuccess(err error) bool {
	return !errors.Is(err, context.Canceled) && !errors.Is(err, redis.ErrClosed)
}

// redisUnavailable tells an error that means "Redis cannot serve now" from
// an answer or a caller's own cancellation.
func redisUnavailable(err error) bool {
	switch {
	case err == nil, errors.Is(err, redis.Nil), errors.Is(err, redis.ErrClosed):
		return false
	case errors.Is(err, context.Canceled):
		return false // the caller left
	case errors.Is(err, context.DeadlineExceeded):
		return true // Redis too slow for the caller's bound
	}
	var reply redis.Error
	if errors.As(err, &reply) {
		return isTransient(reply)
	}
	return true // dial or read error, EOF, pool timeout: Redis is not serving
}

// DialHook implements redis.Hook: dials are judged by the command that
// needed them.
func (b *RedisBreaker) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook implements redis.Hook.
func (b *RedisBreaker) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		ctx, ok, judged := b.admit(ctx)
		if !ok {
			cmd.SetErr(ErrRedisUnavailable)
			return ErrRedisUnavailable
		}
		started := time.Now()
		err := next(ctx, cmd)
		if judged {
			b.done(ctx, started, err)
		}
		return err
	}
}

// ProcessPipelineHook implements redis.Hook (pipelines and transactions).
func (b *RedisBreaker) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		ctx, ok, judged := b.admit(ctx)
		if !ok {
			for _, c := range cmds {
				c.SetErr(ErrRedisUnavailable)
			}
			return ErrRedisUnavailable
		}
		started := time.Now()
		err := next(ctx, cmds)
		if judged {
			b.done(ctx, started, err)
		}
		return err
	}
}
