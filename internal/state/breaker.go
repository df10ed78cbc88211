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

// RedisBreakerOpenFor is the default open period: how long a breaker fails
// commands fast after it opened before it lets one command through to try
// Redis again.
const RedisBreakerOpenFor = time.Second

// RedisBreakerSettings is storage.redis.circuit_breaker. The zero value is
// the default: open after one failure, for one second each time.
type RedisBreakerSettings struct {
	// ConsecutiveFailures is how many failed commands in a row (no command
	// answered in between) open the breaker (HAProxy's fall, Envoy's
	// consecutive_*). Below 1: 1.
	ConsecutiveFailures int
	// OpenTime is the first open period (Envoy's base_ejection_time). Each
	// failed half-open probe in a row adds one more: the n-th period is
	// OpenTime × n, at most MaxOpenTime. 0: RedisBreakerOpenFor.
	OpenTime time.Duration
	// MaxOpenTime caps the open period (Envoy's max_ejection_time). Below
	// OpenTime: OpenTime, so the period never grows.
	MaxOpenTime time.Duration
}

// withDefaults fills in what the zero value means.
func (s RedisBreakerSettings) withDefaults() RedisBreakerSettings {
	if s.ConsecutiveFailures < 1 {
		s.ConsecutiveFailures = 1
	}
	if s.OpenTime <= 0 {
		s.OpenTime = RedisBreakerOpenFor
	}
	if s.MaxOpenTime < s.OpenTime {
		s.MaxOpenTime = s.OpenTime
	}
	return s
}

// openPeriod is the n-th open period in a row (n >= 1): OpenTime × n,
// capped (and safe from overflow for any n).
func (s RedisBreakerSettings) openPeriod(n int) time.Duration {
	if n < 1 {
		n = 1
	}
	if time.Duration(n) > s.MaxOpenTime/s.OpenTime {
		return s.MaxOpenTime
	}
	return min(s.OpenTime*time.Duration(n), s.MaxOpenTime)
}

// RedisBreaker is a circuit breaker for one go-redis client (attach it with
// client.AddHook(b)). Closed, every command goes to Redis. Commands that
// fail because Redis cannot serve (dial or read error, timeout, LOADING,
// READONLY, ...), ConsecutiveFailures of them with no answer in between,
// open it: for the open period every command fails at once with
// ErrRedisUnavailable, so a dead Redis costs a login nothing instead of a
// dial or read timeout each. Then exactly one command is let through (half
// open): its success closes the breaker, its failure opens it again for a
// longer period (OpenTime × failed probes in a row, up to MaxOpenTime).
//
// Answers about the data (redis.Nil, WRONGTYPE, a script error) and a
// caller that gave up (context.Canceled) say nothing about Redis and leave
// the breaker as it is. One breaker on the shared client serves every
// store on it (auth cache, affinity, admin state, probe leases).
type RedisBreaker struct {
	now      func() time.Time
	settings RedisBreakerSettings
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

	open atomic.Bool // with failures, all the hot path reads while Redis is fine
	// failures counts failed commands in a row while closed; a success
	// resets it (the hot path reads it and writes only when it is not 0).
	failures atomic.Int64

	mu      sync.Mutex
	retryAt time.Time
	probing bool // the half-open command is in flight
	streak  int  // open periods in a row: 1 after opening, +1 per failed probe
}

// NewRedisBreaker returns a closed breaker on clock now (nil: time.Now);
// onChange and onReject may be nil.
func NewRedisBreaker(now func() time.Time, settings RedisBreakerSettings, onChange func(up bool, err error), onReject func()) *RedisBreaker {
	if now == nil {
		now = time.Now
	}
	return &RedisBreaker{now: now, settings: settings.withDefaults(), onChange: onChange, onReject: onReject}
}

// Settings are the breaker's effective settings (defaults filled in).
func (b *RedisBreaker) Settings() RedisBreakerSettings { return b.settings }

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

// commandKind says whose outcome the breaker is told.
type commandKind uint8

const (
	ordinaryCommand commandKind = iota
	probeCommand                // the one command let through while open
	// setupCommand is a new connection's setup (connectionSetup), which
	// the command that needed the connection is judged with: its failure
	// may open the breaker early (completesStreak), its answer is no news.
	setupCommand
)

// admission is what admit decided about one command.
type admission struct {
	ok     bool // it may go to Redis
	judged bool // its outcome is recorded (not part of a probe)
	probe  bool // it is the half-open probe
}

// admit is allow for cmds on ctx, with the context to run them on. While
// closed it does not look at the commands: whether they are a
// connection's setup matters only for an outcome other than plain success
// (done), and the hot path stays one atomic load.
func (b *RedisBreaker) admit(ctx context.Context, cmds ...redis.Cmder) (context.Context, admission) {
	if ctx.Value(probeKey{}) == b {
		return ctx, admission{ok: true} // part of the probe: not judged on its own
	}
	if b.open.Load() && connectionSetup(cmds) {
		// A connection's setup while open is never the probe (a probe's
		// own setup carries probeKey): it fails fast like any command.
		if b.onReject != nil {
			b.onReject()
		}
		return ctx, admission{}
	}
	ok, probe := b.allow()
	if !probe {
		return ctx, admission{ok: ok, judged: true}
	}
	return context.WithValue(ctx, probeKey{}, b), admission{ok: true, judged: true, probe: true}
}

// connectionSetup tells the commands go-redis sends through the hooks on a
// new connection before the caller's own: HELLO (or AUTH), then a pipeline
// of SELECT, READONLY and CLIENT SETNAME / SETINFO / TRACKING. Their
// failure fails the command that needed the connection; counting both
// would count one failed command up to three times (HELLO, go-redis's
// retry's HELLO, the command) toward ConsecutiveFailures. Comparing the
// first argument costs no allocation.
func connectionSetup(cmds []redis.Cmder) bool {
	for _, c := range cmds {
		args := c.Args()
		if len(args) == 0 {
			return false
		}
		switch args[0] {
		case "hello", "auth", "select", "readonly", "client":
		default:
			return false
		}
	}
	return len(cmds) > 0
}

// done judges the outcome of cmds unless the caller's short budget, not
// Redis, ended it.
func (b *RedisBreaker) done(ctx context.Context, a admission, started time.Time, err error, cmds ...redis.Cmder) {
	if !a.judged || err == nil && !a.probe && b.failures.Load() == 0 && !b.open.Load() {
		return // the hot path: an answer while all is well is no news
	}
	kind := ordinaryCommand
	switch {
	case a.probe:
		kind = probeCommand
	case connectionSetup(cmds):
		kind = setupCommand
	}
	if err != nil && b.MinBudget > 0 && ctx.Err() != nil {
		if deadline, ok := ctx.Deadline(); ok && deadline.Sub(started) < b.MinBudget {
			b.record(context.Canceled, kind) // no news; frees a probe
			return
		}
	}
	b.record(err, kind)
}

// record takes the outcome of a command admit let through.
func (b *RedisBreaker) record(err error, kind commandKind) {
	failed := redisUnavailable(err)
	switch {
	case kind == setupCommand && !failed:
		// A connection's setup answered (even with an error, as HELLO on
		// Redis 5): its command's outcome is the news. Taken as success, it
		// would end the streak of a Redis that accepts connections but
		// times out every command, each on a fresh connection.
	case failed:
		b.recordFailure(err, kind)
	case !countsAsSuccess(err):
		// The caller gave up or closed the client: no news. A half-open
		// probe ending so lets the next command try.
		if kind == probeCommand {
			b.mu.Lock()
			b.probing = false
			b.mu.Unlock()
		}
	case kind != probeCommand && !b.open.Load():
		// The hot path: Redis answered while closed; no lock, and a write
		// only to end a streak of failures.
		if b.failures.Load() != 0 {
			b.failures.Store(0)
		}
	default:
		b.recordSuccess(kind)
	}
}

// completesStreak reports whether this failure, while closed, completes a
// streak of ConsecutiveFailures. An ordinary command counts itself. A
// setup command does not (its command will), but when its command's
// failure would complete the streak it opens the breaker already, so that
// go-redis's retry on a fresh connection fails fast instead of waiting on
// Redis again; its command's failure then meets an open breaker and
// changes nothing.
func (b *RedisBreaker) completesStreak(kind commandKind) bool {
	threshold := int64(b.settings.ConsecutiveFailures)
	switch kind {
	case setupCommand:
		return b.failures.Load()+1 >= threshold
	default:
		return b.failures.Add(1) >= threshold
	}
}

// recordFailure counts a failure: while closed, the one that completes a
// streak of ConsecutiveFailures opens the breaker; while open, a failed
// probe opens it again for a longer period, and any other failure (a
// command sent before it opened) changes nothing.
func (b *RedisBreaker) recordFailure(err error, kind commandKind) {
	if kind != probeCommand && !b.open.Load() && !b.completesStreak(kind) {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if kind == probeCommand {
		b.probing = false
	}
	if b.open.Load() {
		if kind == probeCommand {
			b.streak++
			b.retryAt = b.now().Add(b.settings.openPeriod(b.streak))
		}
		return
	}
	switch kind {
	case probeCommand:
		// A command sent before the probe found Redis back meanwhile: the
		// probe's failure counts as any failure while closed.
		if !b.completesStreak(kind) {
			return
		}
	case setupCommand:
		if b.failures.Load()+1 < int64(b.settings.ConsecutiveFailures) {
			return // a success ended the streak meanwhile
		}
	default:
		if b.failures.Load() < int64(b.settings.ConsecutiveFailures) {
			return // a success ended the streak meanwhile
		}
	}
	b.failures.Store(0)
	b.streak = 1
	b.retryAt = b.now().Add(b.settings.openPeriod(1))
	b.open.Store(true)
	if b.onChange != nil {
		b.onChange(false, err)
	}
}

// recordSuccess closes the breaker: Redis answered.
func (b *RedisBreaker) recordSuccess(kind commandKind) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if kind == probeCommand {
		b.probing = false
	}
	b.failures.Store(0)
	if !b.open.Load() {
		return
	}
	b.streak = 0
	b.open.Store(false)
	if b.onChange != nil {
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
		ctx, a := b.admit(ctx, cmd)
		if !a.ok {
			cmd.SetErr(ErrRedisUnavailable)
			return ErrRedisUnavailable
		}
		started := time.Now()
		err := next(ctx, cmd)
		b.done(ctx, a, started, err, cmd)
		return err
	}
}

// ProcessPipelineHook implements redis.Hook (pipelines and transactions).
func (b *RedisBreaker) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		ctx, a := b.admit(ctx, cmds...)
		if !a.ok {
			for _, c := range cmds {
				c.SetErr(ErrRedisUnavailable)
			}
			return ErrRedisUnavailable
		}
		started := time.Now()
		err := next(ctx, cmds)
		b.done(ctx, a, started, err, cmds...)
		return err
	}
}
