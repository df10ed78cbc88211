package lua

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/passhash"
)

// Slow password hashes (bcrypt, SHA-crypt, Argon2: up to about a second
// each within the limits in nauthilus_password.go) cannot be interrupted
// once started. Run on the script's own goroutine, a hash kept the run
// past lua.config.script_timeout by its whole cost: the caller abandoned
// the run at its deadline, but the state stayed busy until the hash
// returned, and a script hashing in a loop (or many runs hashing at once)
// kept every state of the pool, and every core, busy.
//
// So a slow hash runs on a worker goroutine, and the script waits for it
// only until its deadline; then compare_passwords raises and the run ends
// as timed out, its state free at once. The hash the run gave up on
// finishes in the background and keeps its worker slot until then, so the
// bound on hashing in flight holds whatever scripts do: at most
// lua.config.password_hash_workers hashes run at a time in the whole process (a counting
// semaphore), and a script that finds every slot taken waits for one
// within its deadline. This is what Dovecot does with its auth worker
// processes: a bounded number of blocking verifications, the rest queued.

// The number of workers is lua.config.password_hash_workers, by default
// one per core, at least two (config.DefaultLuaPasswordHashWorkers). It
// trades CPU for queueing, as Dovecot's auth_worker_max_count does: more
// workers let more slow hashes progress at once (each slower, when they
// outnumber the cores) and take more of the CPU the rest of the daemon
// needs during a burst of logins; fewer make logins wait for a worker,
// and, with the wait bounded by script_timeout, fail sooner as timed out.

// hashWorkerCount is the number of workers for lua.config.password_hash_workers n.
func hashWorkerCount(n int) int {
	if n <= 0 {
		return config.DefaultLuaPasswordHashWorkers()
	}
	return n
}

const hashPoolKey = "nauthilus_password.workers"

// hashPool is the semaphore of hash workers. It lives in the Host, so it
// is shared by every engine of the process and survives reloads; each
// Engine applied (ApplyHostSettings: a reload that succeeded) sets its
// size, so a changed password_hash_workers applies to hashes that start
// from then on.
type hashPool struct {
	// slots counts hashes holding a worker; its limit is the worker count.
	slots *memoryGate
	// running is how many hashes are being computed (tests, Stats).
	running atomic.Int64
}

func newHashPool(n int) *hashPool { return &hashPool{slots: newMemoryGate(int64(n))} }

// setWorkers changes the number of workers. Hashes running keep their
// slots: with fewer workers, new hashes wait until the running ones are
// below the new number.
func (p *hashPool) setWorkers(n int) { p.slots.setLimit(int64(n)) }

// held is how many worker slots are taken.
func (p *hashPool) held() int64 {
	p.slots.mu.Lock()
	defer p.slots.mu.Unlock()
	return p.slots.used
}

// workers is the current number of workers.
func (p *hashPool) workers() int64 {
	p.slots.mu.Lock()
	defer p.slots.mu.Unlock()
	return p.slots.limit
}

func hashPoolOf(h *Host) *hashPool {
	return hostValue(h, hashPoolKey, func() *hashPool {
		p := newHashPool(hashWorkerCount(0))
		if h.Registerer != nil {
			_ = h.Registerer.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "backline_lua_password_hashes_running",
				Help: "Slow password hashes (compare_passwords) being computed, at most lua.config.password_hash_workers; those whose script gave up at its deadline included.",
			}, func() float64 { return float64(p.running.Load()) }))
			_ = h.Registerer.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "backline_lua_password_hash_workers",
				Help: "The number of slow password hashes that may run at once (lua.config.password_hash_workers, or its default of one per core, at least 2).",
			}, func() float64 { return float64(p.workers()) }))
		}
		return p
	})
}

// errHashNotStarted says run gave up before a worker took the job.
var errHashNotStarted = errors.New("waiting for a password hash worker")

// verifyStored computes a hash; tests replace it to control its timing.
var verifyStored = func(sp passhash.Stored, plain string) (bool, error) { return sp.Verify(plain) }

// verify runs verifyStored(sp, plain) on a worker and waits for its result
// or for ctx; stopped is set when ctx ended first. finished is called when the hash is done (or was never
// started), whether or not the caller still waits; it releases what the
// hash holds besides its slot (Argon2's memory).
func (p *hashPool) verify(ctx context.Context, sp passhash.Stored, plain string, finished func()) (ok bool, err, stopped error) {
	if err := p.slots.acquire(ctx, 1); err != nil {
		finished()
		return false, nil, fmt.Errorf("%w: %w", errHashNotStarted, err)
	}
	type result struct {
		ok  bool
		err error
	}
	done := make(chan result, 1) // buffered: an abandoned worker never blocks
	p.running.Add(1)
	go func() {
		defer func() {
			finished()
			p.running.Add(-1)
			p.slots.release(1)
		}()
		ok, err := verifyStored(sp, plain)
		done <- result{ok, err}
	}()
	select {
	case res := <-done:
		return res.ok, res.err, nil
	case <-ctx.Done():
		return false, nil, fmt.Errorf("stopped waiting for the hash (it finishes in the background): %w", context.Cause(ctx))
	}
}

// slowHash reports whether a hash costs enough to go to a worker: every
// scheme with a work factor. The salted SHA and MD5 schemes take
// microseconds, less than the hand-over would.
func slowHash(c passhash.Cost) bool {
	return c.Rounds > 0 || c.BcryptCost > 0 || c.Argon2Memory > 0 || c.Argon2Passes > 0
}
