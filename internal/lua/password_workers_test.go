package lua

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/passhash"
)

// bcrypt14 is "pw" at cost 14 (about 2 s on this machine, more under -race;
// the tests hold it in a stub verifyStored instead of computing it).
const bcrypt14 = "$2a$14$RUxxEHTNkGmB6rwviBilF.um1ZxT9cymG.bLhZmVmqaJ7GH/X40DS"

// waitHashesDone waits (bounded) for abandoned hashes to finish, so no
// worker outlives the test.
func waitHashesDone(t *testing.T, p *hashPool) {
	t.Helper()
	for end := time.Now().Add(2 * time.Minute); p.running.Load() != 0; {
		if time.Now().After(end) {
			t.Fatalf("%d hashes still running", p.running.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSlowHashEndsTheRunAtItsDeadline: a slow hash (bcrypt) in a loop
// with a 250 ms budget. The run ends as timed out while the hash still
// runs: it is not abandoned inside a native call (before the fix, the
// state hashed on for the whole cost, each time), and the hash finishes
// in the background holding its worker slot. The hash is held until the
// test lets it end: a real cost-14 bcrypt took 98 s to finish under -race
// on a loaded machine, close to waitHashesDone's bound, and burnt a core
// meanwhile. (The budget was 50 ms: a run starved that long before its
// first compare_passwords would time out outside it.)
func TestSlowHashEndsTheRunAtItsDeadline(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	letHashEnd := func() { once.Do(func() { close(release) }) }
	orig := verifyStored
	verifyStored = func(passhash.Stored, string) (bool, error) {
		<-release
		return false, nil
	}
	t.Cleanup(func() { letHashEnd(); verifyStored = orig })
	body := `local password = require("nauthilus_password")
for i = 1, 10 do password.compare_passwords("` + bcrypt14 + `", "pw") end`
	s := engineSetup{cfg: config.LuaConfig{ScriptTimeout: 250 * time.Millisecond, VMPoolSize: 1}}
	s.filters = []config.LuaFilter{filter(t, "f", filterBody(body))}
	e, logs := newEngine(t, s)
	pool := hashPoolOf(e.host)
	_, err := e.RunFilters(context.Background(), &Request{Username: "alice", Password: "pw"})
	running := pool.running.Load()
	var se *ScriptError
	if !errors.As(err, &se) || !se.Timeout || se.Msg != "timed out after 250ms in compare_passwords, during a password hash (it finishes in the background)" {
		t.Fatalf("err = %v", err)
	}
	if st := e.Stats(); st.AbandonedRuns != 0 || st.Timeouts != 1 {
		t.Errorf("stats = %+v; want a timeout, no abandoned run", st)
	}
	if running != 1 {
		t.Errorf("%d hashes running when the run returned; want the one it gave up on", running)
	}
	if !strings.Contains(logs.String(), "Lua filter failed") {
		t.Errorf("logs:\n%s", logs)
	}
	letHashEnd()
	waitHashesDone(t, pool)
	if pool.held() != 0 {
		t.Errorf("%d worker slots still held", pool.held())
	}
}

// TestHashWorkersBoundConcurrentHashing: with two workers, four runs
// hashing at once start two hashes; the other two wait for a slot and
// end at their deadline with the budget error, and so do the two whose
// hashes never return in time. No run is abandoned. The deadline is 2 s
// (300 ms once): each of the four runs must reach compare_passwords
// before it, which a starved -race run may not do in 300 ms.
func TestHashWorkersBoundConcurrentHashing(t *testing.T) {
	release := make(chan struct{})
	var started, peak atomic.Int64
	orig := verifyStored
	verifyStored = func(sp passhash.Stored, plain string) (bool, error) {
		n := started.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		<-release
		return false, nil
	}
	t.Cleanup(func() { verifyStored = orig })

	body := `local password = require("nauthilus_password")
local ok, err = password.compare_passwords("$6$rounds=5000$saltsalt$x", "pw")
error("not reached: " .. tostring(ok) .. tostring(err))`
	s := engineSetup{cfg: config.LuaConfig{ScriptTimeout: 2 * time.Second, VMPoolSize: 4, PasswordHashWorkers: 2}}
	s.filters = []config.LuaFilter{filter(t, "f", filterBody(body))}
	e, _ := newEngine(t, s)
	pool := hashPoolOf(e.host)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = e.RunFilters(context.Background(), &Request{Username: "alice", Password: "pw"})
		})
	}
	wg.Wait()
	waiting := 0
	for i, err := range errs {
		var se *ScriptError
		if !errors.As(err, &se) || !se.Timeout || !strings.Contains(se.Msg, "in compare_passwords") {
			t.Errorf("run %d: err = %v; want a timeout in compare_passwords", i, err)
		} else if strings.Contains(se.Msg, "waiting for a password hash worker") {
			waiting++
		}
	}
	if waiting != 2 {
		t.Errorf("%d runs timed out waiting for a worker, want 2", waiting)
	}
	if got := started.Load(); got != 2 {
		t.Errorf("%d hashes started; the bound is 2", got)
	}
	if got := pool.running.Load(); got != 2 {
		t.Errorf("%d hashes running after the runs gave up; want 2 holding their slots", got)
	}
	if st := e.Stats(); st.AbandonedRuns != 0 {
		t.Errorf("stats = %+v", st)
	}
	close(release)
	waitHashesDone(t, pool)
	if peak.Load() != 2 || pool.held() != 0 {
		t.Errorf("peak %d, slots held %d", peak.Load(), pool.held())
	}
}

// TestFastHashesStayOnTheScriptGoroutine: salted SHA needs no worker, and a
// slow hash that finishes in time answers as before.
func TestFastHashesStayOnTheScriptGoroutine(t *testing.T) {
	body := `local password = require("nauthilus_password")
local ok, err = password.compare_passwords("$1$abcdefgh$fzmjzFdo5nMtBG8gtud5e0", "pw")
assert(ok == false and err == nil, "md5-crypt: " .. tostring(err))
ok, err = password.compare_passwords("$2a$04$jSm6Wr3P3BHYqSfXJfvB3OwqXyHKjWiVSZb8qE6t9Ee6xW5tIJHkO", "pw")
assert(ok == false, "bcrypt: " .. tostring(ok))`
	out, err, _ := runOne(t, filterBody(body), engineSetup{})
	if err != nil || out == nil {
		t.Fatalf("err = %v", err)
	}
}

// TestPasswordHashWorkersFollowTheConfig: 0 is one per core (at least 2),
// an explicit number is used as is, and an Engine built on the same Host
// (a reload) applies a changed number to the Host's one pool.
func TestPasswordHashWorkersFollowTheConfig(t *testing.T) {
	host := NewHost()
	build := func(n int) *hashPool {
		t.Helper()
		e, err := NewEngine(Options{Config: config.Lua{Config: config.LuaConfig{PasswordHashWorkers: n}}, Host: host})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(e.Close)
		return hashPoolOf(e.host)
	}
	def := int64(max(2, runtime.GOMAXPROCS(0)))
	first := build(0)
	if got := first.workers(); got != def || int64(config.DefaultLuaPasswordHashWorkers()) != def {
		t.Errorf("default: %d workers, want %d", got, def)
	}
	if p := build(7); p != first || p.workers() != 7 {
		t.Errorf("explicit 7 after a reload: same pool %v, %d workers", p == first, p.workers())
	}
	if p := build(0); p.workers() != def {
		t.Errorf("back to 0: %d workers, want %d", p.workers(), def)
	}
}

// TestMoreHashWorkersStartWaitingHashes: with one worker a second hash
// waits; raising the number (a reload) starts it at once, and lowering it
// below the hashes running lets none start until they are fewer.
func TestMoreHashWorkersStartWaitingHashes(t *testing.T) {
	release := make(chan struct{})
	var started atomic.Int64
	orig := verifyStored
	verifyStored = func(sp passhash.Stored, plain string) (bool, error) {
		started.Add(1)
		<-release
		return true, nil
	}
	t.Cleanup(func() { verifyStored = orig })

	p := newHashPool(1)
	var wg sync.WaitGroup
	hash := func() {
		wg.Go(func() {
			ok, err, stopped := p.verify(context.Background(), passhash.Stored{}, "pw", func() {})
			if !ok || err != nil || stopped != nil {
				t.Errorf("verify = %v, %v, %v", ok, err, stopped)
			}
		})
	}
	waitStarted := func(n int64) {
		t.Helper()
		for end := time.Now().Add(time.Minute); started.Load() != n; time.Sleep(time.Millisecond) {
			if time.Now().After(end) {
				t.Fatalf("%d hashes started, want %d", started.Load(), n)
			}
		}
	}
	hash()
	hash()
	waitStarted(1)
	p.setWorkers(2)
	waitStarted(2)

	// Two running, one worker: a third hash must wait for both.
	p.setWorkers(1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, stopped := p.verify(ctx, passhash.Stored{}, "pw", func() {}); !errors.Is(stopped, errHashNotStarted) {
		t.Errorf("third hash with two running and one worker: stopped = %v", stopped)
	}
	close(release)
	wg.Wait()
	if p.held() != 0 || started.Load() != 2 {
		t.Errorf("held %d, started %d", p.held(), started.Load())
	}
}
