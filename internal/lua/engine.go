// Package lua runs Nauthilus-compatible Lua filter scripts and password
// scripts against a request and the current health snapshot. Scripts are
// compiled once; each run gets a pooled state, a fresh environment and its
// own request-bound modules (nauthilus_backend, nauthilus_backend_result,
// nauthilus_builtin, nauthilus_util, nauthilus_json).
package lua

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	glua "github.com/yuin/gopher-lua"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/probe"
)

// Options are the Engine's inputs.
type Options struct {
	Config config.Lua
	// Health is where get_backend_servers reads; nil means no targets.
	Health health.Source
	// Checker runs check_backend_connection probes; nil makes them fail.
	Checker probe.Checker
	Logger  *slog.Logger
	// ConnectTimeout and TLSTimeout bound check_backend_connection (the
	// health-check settings; 5s each when zero).
	ConnectTimeout, TLSTimeout time.Duration
	// MemorySoftLimit is the process heap (bytes) above which the runs
	// holding the most are stopped; 0 derives it (see defaultSoftLimit).
	MemorySoftLimit int64
	// Host is shared by every Engine the daemon builds (host.go); nil
	// gives this Engine a private one.
	Host *Host
	// DeferHostSettings leaves a shared Host's settings as they are until
	// ApplyHostSettings; without it (or with a private Host) NewEngine
	// applies them.
	DeferHostSettings bool
}

// Engine owns the compiled scripts and the state pool.
type Engine struct {
	// abandonGrace: see the constant.
	abandonGrace time.Duration
	opts         Options
	host         *Host
	// ownHost: the Host is this Engine's own (Options.Host was nil), so
	// Close closes what its modules keep there (the db module's pools).
	ownHost bool
	cfg     config.Lua
	health  health.Source
	logger  *slog.Logger
	timeout time.Duration
	// maxMemory is lua.config.max_memory in bytes.
	maxMemory int64
	// dbLim is lua.config.db with its defaults (db_pools.go).
	dbLim dbLimits
	// cacheMax and hashWorkers are what ApplyHostSettings gives the Host.
	cacheMax    int64
	hashWorkers int

	connectTimeout, tlsTimeout time.Duration

	filters []*script
	// inits are the init scripts (init.go), run by RunInitScripts.
	inits []*script
	// byMode are the filters of each request mode (filtersFor).
	byMode [3][]*script
	pool   *statePool
	// files is where loadfile, dofile and require may read.
	files *fileAccess
	watch *watchdog
	once  sync.Once

	inflight                    sync.WaitGroup
	abandoned, abandonedRunning atomic.Int64
	// runs counts finished script runs; runErrors, runTimeouts and
	// runMemoryStops those that failed, by cause (see countRun).
	runs, runErrors, runTimeouts, runMemoryStops atomic.Int64

	// testGlobals are extra global functions for tests (a native call that
	// ignores the deadline, for one).
	testGlobals map[string]glua.LGFunction
}

// script is one compiled file.
type script struct {
	name, path string
	proto      *glua.FunctionProto
	// resultOK and resultFail are the filter's entries in Results.
	resultOK, resultFail string
	// modes it runs in (filters only)
	authenticated, unauthenticated, noAuth bool
}

// NewEngine compiles every lua.filters script. A syntax error names the
// filter, its file and the line.
func NewEngine(opts Options) (*Engine, error) {
	e := &Engine{opts: opts, cfg: opts.Config, health: opts.Health, logger: opts.Logger, abandonGrace: abandonGrace}
	if e.logger == nil {
		e.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	e.host = opts.Host
	if e.host == nil {
		e.host = NewHost()
		e.ownHost = true
	}
	e.timeout = e.cfg.Config.ScriptTimeout
	if e.timeout <= 0 {
		e.timeout = config.DefaultLuaScriptTimeout
	}
	e.maxMemory = int64(e.cfg.Config.MaxMemory)
	if e.maxMemory <= 0 {
		e.maxMemory = int64(config.DefaultLuaMaxMemory)
	}
	e.dbLim = newDBLimits(e.cfg, e.maxMemory)
	e.cacheMax = int64(e.cfg.Config.CacheMaxMemory)
	e.hashWorkers = hashWorkerCount(e.cfg.Config.PasswordHashWorkers)
	size := e.cfg.Config.VMPoolSize
	if size <= 0 {
		size = config.DefaultLuaVMPoolSize()
	}
	e.connectTimeout, e.tlsTimeout = orDefault(opts.ConnectTimeout), orDefault(opts.TLSTimeout)
	e.files = &fileAccess{}
	e.files.addPackagePath(e.cfg.Config.PackagePath)
	for i, f := range e.cfg.Filters {
		s, err := compile(f.Name, f.ScriptPath)
		if err == nil {
			err = e.checkRedisAvailable(s)
		}
		if err != nil {
			return nil, fmt.Errorf("lua.filters[%d].script_path: %w", i, err)
		}
		s.authenticated, s.unauthenticated, s.noAuth = f.Modes()
		e.files.addScript(f.ScriptPath)
		e.filters = append(e.filters, s)
	}
	e.modeFilters()
	if err := e.compileInitScripts(); err != nil {
		return nil, err
	}
	e.pool = newStatePool(size, e.newVM)
	softLimit := opts.MemorySoftLimit
	if softLimit <= 0 {
		softLimit = defaultSoftLimit(size, e.maxMemory)
	}
	e.watch = newWatchdog(e, softLimit)
	if !opts.DeferHostSettings || opts.Host == nil {
		e.ApplyHostSettings()
	}
	return e, nil
}

// ApplyHostSettings gives the Host, which outlives the Engine, this
// Engine's settings for it: nauthilus_cache's bound, the Redis reply
// guard's limit and the number of password hash workers. They apply to
// the runs of every Engine on the Host, the running configuration's
// included, so the daemon builds its engines with DeferHostSettings and
// applies them only once a reload can no longer fail: a failed reload
// leaves what runs as it was.
func (e *Engine) ApplyHostSettings() {
	e.host.setCacheLimit(e.cacheMax)
	// No reply larger than a run's whole budget is read (redis_replies.go).
	e.host.RedisReplyGuard().SetLimit(e.maxMemory)
	// A changed number applies to hashes that start from now on.
	hashPoolOf(e.host).setWorkers(e.hashWorkers)
}

func orDefault(d time.Duration) time.Duration {
	if d <= 0 {
		return 5 * time.Second
	}
	return d
}

func compile(name, path string) (*script, error) {
	src, err := readScriptFile(path, path, true)
	if err != nil {
		return nil, fmt.Errorf("lua script %q: %w", name, err)
	}
	proto, err := compileSource(src, path, true)
	if err != nil {
		return nil, fmt.Errorf("lua script %q: %w", name, err)
	}
	return &script{name: name, path: path, proto: proto, resultOK: name + ":ok", resultFail: name + ":fail"}, nil
}

// closeWait bounds how long Close waits for runs still inside a native call.
const closeWait = 5 * time.Second

// Close waits (at most closeWait) for the runs in flight, abandoned ones
// included, to end, and frees the states.
func (e *Engine) Close() {
	e.once.Do(func() {
		ended := make(chan struct{})
		go func() {
			e.inflight.Wait()
			e.watch.wait()
			close(ended)
		}()
		select {
		case <-ended:
		case <-time.After(closeWait):
			e.logger.Warn("Lua engine closed with runs still inside a native call", "abandoned_running", e.abandonedRunning.Load())
		}
		e.pool.close()
		if e.ownHost {
			e.host.CloseDBPools()
		}
	})
}

// FilterCount is how many filters run for a request in that mode; zero
// means the password result alone decides (contract §1.6).
func (e *Engine) FilterCount(req *Request) int { return len(e.filtersFor(req)) }

// filtersFor returns the filters of the request's mode, in config order.
// The lists are made once (modeFilters); callers must not change them.
func (e *Engine) filtersFor(req *Request) []*script {
	switch {
	case req.NoAuth:
		return e.byMode[modeNoAuth]
	case req.Authenticated:
		return e.byMode[modeAuthenticated]
	default:
		return e.byMode[modeUnauthenticated]
	}
}

const (
	modeNoAuth = iota
	modeAuthenticated
	modeUnauthenticated
)

// modeFilters sorts e.filters by the modes they run in (a list per request
// was an allocation, twice per request).
func (e *Engine) modeFilters() {
	for _, s := range e.filters {
		if s.noAuth {
			e.byMode[modeNoAuth] = append(e.byMode[modeNoAuth], s)
		}
		if s.authenticated {
			e.byMode[modeAuthenticated] = append(e.byMode[modeAuthenticated], s)
		}
		if s.unauthenticated {
			e.byMode[modeUnauthenticated] = append(e.byMode[modeUnauthenticated], s)
		}
	}
}

// abandonGrace is how long a cancelled run may take to notice. The VM stops
// at its next instruction, within microseconds; only a long native call
// (a sort of a huge table; pattern matching checks the deadline itself)
// takes longer, and that run is abandoned. Each engine copies it into
// Engine.abandonGrace, which tests on a starved machine may widen.
const abandonGrace = 50 * time.Millisecond

// runScript takes a state (waiting at most the script timeout) and runs one
// script on the state's own goroutine, so the caller gets its answer at the
// deadline even when the script is inside a long native call. The state
// goes back to the pool after a clean run and is closed after an error (by
// the caller, see finished) or, when the caller gave up, by the state's
// goroutine once the script really ends.
func (e *Engine) runScript(ctx context.Context, s *script, kind scriptKind, req *Request, entries []string) (*scriptRun, glua.LValue, glua.LValue, error) {
	r, ret1, ret2, err := e.runScriptUncounted(ctx, s, kind, req, entries)
	e.countRun(err)
	return r, ret1, ret2, err
}

// countRun feeds backline_lua_runs_total and backline_lua_failures_total.
// A canceled run (the client went away, a sibling filter failed) is a run
// but no failure of its own.
func (e *Engine) countRun(err error) {
	e.runs.Add(1)
	if err == nil {
		return
	}
	var se *ScriptError
	switch {
	case !errors.As(err, &se):
		e.runErrors.Add(1)
	case se.Canceled:
	case se.Timeout:
		e.runTimeouts.Add(1)
	case se.Memory:
		e.runMemoryStops.Add(1)
	default:
		e.runErrors.Add(1)
	}
}

func (e *Engine) runScriptUncounted(ctx context.Context, s *script, kind scriptKind, req *Request, entries []string) (*scriptRun, glua.LValue, glua.LValue, error) {
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	r := newRun(ctx, e, s, kind, req)
	r.cancel = cancel
	v, err := e.pool.acquire(ctx)
	if err != nil {
		return nil, nil, nil, r.failure(waitingForState+": "+err.Error(), "")
	}
	r.entries, r.done, r.state = entries, v.done, v
	e.inflight.Add(1)
	v.jobs <- r
	select {
	case res := <-v.done:
		return e.finished(v, r, res)
	case <-ctx.Done():
	}
	grace := time.NewTimer(e.abandonGrace)
	defer grace.Stop()
	select {
	case res := <-v.done:
		return e.finished(v, r, res)
	case <-grace.C:
	}
	if !r.phase.CompareAndSwap(runActive, runAbandoned) {
		return e.finished(v, r, <-v.done) // it ended just now
	}
	e.abandoned.Add(1)
	e.abandonedRunning.Add(1)
	return nil, nil, nil, r.abandon()
}

// finished returns the state of a run that ended in time to the pool (a
// state whose run failed is closed) and passes the result on.
func (e *Engine) finished(v *vm, r *scriptRun, res jobResult) (*scriptRun, glua.LValue, glua.LValue, error) {
	e.pool.release(v, res.err != nil)
	return r, res.ret1, res.ret2, res.err
}

// Stats are counters of runs stopped by the engine's limits.
type Stats struct {
	// AbandonedRuns counts runs the caller stopped waiting for because they
	// were inside a native call at their deadline; AbandonedRunning is how
	// many of them still hold a state and a pool slot.
	AbandonedRuns, AbandonedRunning int64
	// ProcessLimitStops counts runs stopped for the process-wide soft limit.
	ProcessLimitStops int64
	// Runs counts finished script runs (filters, password scripts);
	// Errors, Timeouts and MemoryStops the failed ones by cause.
	Runs, Errors, Timeouts, MemoryStops int64
}

// Stats reports the engine's counters.
func (e *Engine) Stats() Stats {
	return Stats{
		AbandonedRuns:     e.abandoned.Load(),
		AbandonedRunning:  e.abandonedRunning.Load(),
		ProcessLimitStops: e.watch.processStops.Load(),
		Runs:              e.runs.Load(),
		Errors:            e.runErrors.Load(),
		Timeouts:          e.runTimeouts.Load(),
		MemoryStops:       e.runMemoryStops.Load(),
	}
}
