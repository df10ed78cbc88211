package lua

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime/debug"
	"runtime/metrics"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	glua "github.com/yuin/gopher-lua"

	"github.com/backline/backline/internal/config"
)

// gopher-lua has no allocator hook. What it does offer is a context check
// before every VM instruction; a runContext turns that check into a hook
// on the goroutine that runs the script, where the state may safely be
// walked. A watchdog goroutine asks each run to measure itself every tick
// and, when the process heap passes the soft limit, cancels the runs that
// hold the most.
//
// The watchdog ticks only while a run has lasted at least watchTick: each
// run arms a one-shot timer that starts it, stopped when the run ends. A
// typical filter ends in tens of microseconds, so under steady load the
// timers never fire. A ticker running whenever any run was active woke a
// goroutine every 2 ms for good and, with GOMAXPROCS=1, more than doubled
// the p99 latency of the nginx endpoint in bench/soak.

const (
	// watchTick is how long a run goes before the watchdog starts, and
	// then how often it samples the heap and asks the runs to measure
	// themselves.
	watchTick = 2 * time.Millisecond
	// measureCostFactor keeps measuring below about 10% of a run's time: a
	// walk that took d is not repeated for 10*d.
	measureCostFactor = 10
	// measureEvery is the instruction count between self-checks.
	measureEvery = 4096
	// softLimitVictimFloor: runs holding less than this are never cancelled
	// for the process-wide limit; they are not what fills the heap.
	softLimitVictimFloor = 1 << 20
)

// Reasons a run is stopped before it ends; ScriptError carries them.
var (
	errMemoryBudget = errors.New("memory budget exceeded")
	errProcessLimit = errors.New("stopped: the daemon's Lua memory soft limit was reached and this run held the most")
)

// runContext is the context a state sees while it runs a script.
type runContext struct {
	context.Context
	run *scriptRun
	th  *glua.LState
	// done is Context.Done(), which never changes, fetched once: the VM
	// asks before every instruction, and asking the context each time was
	// a tenth of a short filter's instructions.
	done <-chan struct{}
}

func newRunContext(r *scriptRun, th *glua.LState) runContext {
	return runContext{Context: r.ctx, run: r, th: th, done: r.ctx.Done()}
}

// Done is called by the VM before each instruction, on the run's goroutine.
// Besides the watchdog's request, every measureEvery instructions the run
// measures itself if the cost rule allows, so a busy loop is caught even
// when the watchdog is slow to be scheduled.
func (c *runContext) Done() <-chan struct{} {
	r := c.run
	r.instructions++
	if r.measureDue.Load() || r.instructions%measureEvery == 0 && time.Now().UnixNano() >= r.nextMeasure.Load() {
		r.measureDue.Store(false)
		r.measure(c.th)
	}
	return c.done
}

// measure walks the state (on the run's goroutine only) and stops the run
// if it holds more than lua.config.max_memory.
func (r *scriptRun) measure(current *glua.LState) {
	v := r.state
	if v == nil {
		return
	}
	start := time.Now()
	limit := r.engine.maxMemory
	size := newSizer(limit).measure(v.L, current, v.env, v.globals, v.L.Get(glua.RegistryIndex))
	r.measured.Store(size)
	r.retained = 0
	r.walks++
	took := time.Since(start)
	r.nextMeasure.Store(time.Now().Add(measureCostFactor * took).UnixNano())
	if size > limit {
		r.stop(fmt.Errorf("%w: the script holds more than %s (lua.config.max_memory)", errMemoryBudget, config.ByteSize(limit)))
	}
}

// stop cancels the run with a reason; the VM raises at its next instruction.
// It may be called from any goroutine.
func (r *scriptRun) stop(cause error) {
	if r.cancel != nil {
		if r.ctx.Err() == nil { // as with a context's cause, the first end wins
			r.stopped.CompareAndSwap(nil, &stopCause{cause})
		}
		r.cancel()
	}
}

// watchdog tracks the engine's active runs.
type watchdog struct {
	engine *Engine
	// softLimit is the process heap above which the largest runs are stopped.
	softLimit int64

	mu      sync.Mutex
	runs    map[*scriptRun]struct{}
	running bool
	done    chan struct{} // closed when the goroutine ends; nil before
	sample  []metrics.Sample
	// startFn is start as a func value made once, for the runs' timers.
	startFn func()

	processStops atomic.Int64
	// ticks counts the watchdog's rounds (tests).
	ticks atomic.Int64
}

func newWatchdog(e *Engine, softLimit int64) *watchdog {
	w := &watchdog{engine: e, softLimit: softLimit, runs: map[*scriptRun]struct{}{}}
	w.sample = []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	w.startFn = w.start
	return w
}

// defaultSoftLimit is 90% of GOMEMLIMIT when one is set, else twice what all
// pooled runs may hold at once (the heap also holds their garbage) plus
// 256 MiB for the rest of the daemon.
func defaultSoftLimit(poolSize int, maxMemory int64) int64 {
	if limit := debug.SetMemoryLimit(-1); limit > 0 && limit < math.MaxInt64 {
		return limit / 10 * 9
	}
	return 2*int64(poolSize)*maxMemory + 256<<20
}

// add registers a run and arms the timer that starts the watchdog if the
// run is still going after watchTick. The state's goroutine calls add as
// it starts the run and remove when the run ends.
// The timer belongs to the state (one run at a time), made on its first
// run and reset for each later one: a timer per run was an allocation and
// a heap insert per request.
func (w *watchdog) add(r *scriptRun, v *vm) {
	r.watchedSince = time.Now()
	w.mu.Lock()
	w.runs[r] = struct{}{}
	w.mu.Unlock()
	if v.watchTimer == nil {
		v.watchTimer = time.AfterFunc(watchTick, w.startFn)
	} else {
		v.watchTimer.Reset(watchTick)
	}
}

func (w *watchdog) remove(r *scriptRun, v *vm) {
	v.watchTimer.Stop()
	w.mu.Lock()
	delete(w.runs, r)
	w.mu.Unlock()
}

// start runs the watchdog loop on the calling goroutine (a run's timer)
// unless it runs already.
func (w *watchdog) start() {
	w.mu.Lock()
	if w.running {
		w.mu.Unlock()
		return
	}
	w.running = true
	w.done = make(chan struct{})
	done := w.done
	w.mu.Unlock()
	w.loop(done)
}

// wait blocks until the goroutine has ended (tests, Close).
func (w *watchdog) wait() {
	w.mu.Lock()
	done := w.done
	w.mu.Unlock()
	if done != nil {
		<-done
	}
}

// loop ticks at once, then every watchTick, while some run has lasted
// watchTick or more.
func (w *watchdog) loop(done chan struct{}) {
	defer close(done)
	var t *time.Ticker
	for {
		runs, ok := w.longRuns()
		if !ok {
			break
		}
		w.tick(runs)
		if t == nil {
			t = time.NewTicker(watchTick)
			defer t.Stop()
		}
		<-t.C
	}
}

// longRuns returns every active run when one of them has lasted watchTick
// or more. Otherwise it marks the watchdog stopped and returns false: the
// timers of the runs still going start it again.
func (w *watchdog) longRuns() ([]*scriptRun, bool) {
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	runs := make([]*scriptRun, 0, len(w.runs))
	long := false
	for r := range w.runs {
		runs = append(runs, r)
		long = long || now.Sub(r.watchedSince) >= watchTick
	}
	if !long {
		w.running = false
		return nil, false
	}
	return runs, true
}

func (w *watchdog) tick(runs []*scriptRun) {
	w.ticks.Add(1)
	now := time.Now().UnixNano()
	for _, r := range runs {
		if now >= r.nextMeasure.Load() {
			r.measureDue.Store(true)
		}
	}
	metrics.Read(w.sample)
	if w.sample[0].Value.Kind() != metrics.KindUint64 {
		return
	}
	heap := int64(w.sample[0].Value.Uint64())
	if heap <= w.softLimit {
		return
	}
	// Over the soft limit: stop the largest runs (by their last
	// measurement) until what they hold covers the excess.
	sort.Slice(runs, func(i, j int) bool { return runs[i].measured.Load() > runs[j].measured.Load() })
	excess := heap - w.softLimit
	for _, r := range runs {
		held := r.measured.Load()
		if held < softLimitVictimFloor || excess <= 0 {
			break
		}
		w.processStops.Add(1)
		r.stop(errProcessLimit)
		excess -= held
	}
}

// coroutineWrap is coroutine.wrap on top of the hooked coroutine.create.
const coroutineWrap = `local create, resume, error = ...
local function pass(ok, ...)
  if not ok then error((...), 0) end
  return ...
end
return function(f)
  local co = create(f)
  return function(...) return pass(resume(co, ...)) end
end`

// installCoroutineHooks gives each coroutine the run's context, so code
// inside a coroutine is measured and stopped like the main chunk.
// gopher-lua would give it a plain child context.
func (v *vm) installCoroutineHooks() {
	L := v.L
	co, _ := v.globals.RawGetString("coroutine").(*glua.LTable)
	if co == nil {
		panic("lua: coroutine library must be open")
	}
	create, ok := co.RawGetString("create").(*glua.LFunction)
	if !ok || !create.IsG {
		panic("lua: no coroutine.create")
	}
	hooked := L.NewFunction(func(L *glua.LState) int {
		// A coroutine is kept, unlike most results: count it until the
		// next measurement sees it.
		v.chargeRetained(L, sizeThread)
		n := create.GFunction(L)
		if th, ok := L.Get(-1).(*glua.LState); ok && v.run != nil {
			rc := newRunContext(v.run, th)
			th.SetContext(&rc)
		}
		return n
	})
	co.RawSetString("create", hooked)
	wrapFactory, err := L.LoadString(coroutineWrap)
	if err != nil {
		panic("lua: " + err.Error())
	}
	L.Push(wrapFactory)
	L.Push(hooked)
	L.Push(co.RawGetString("resume"))
	L.Push(v.globals.RawGetString("error"))
	L.Call(3, 1)
	co.RawSetString("wrap", L.Get(-1))
	L.Pop(1)
}
