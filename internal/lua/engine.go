// Package lua runs Nauthilus-compatible Lua filter scripts and password
// scripts against a request and the current health snapshot. Scripts are
// compiled once; each run gets a pooled state, a fresh environment and its
// own request-bound modules (nauthilus_backend, nauthilus_backend_result,
// nauthilus_builtin, nauthilus_util, nauthilus_json).
package lua

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
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
}

// Engine owns the compiled scripts and the state pool.
type Engine struct {
	opts    Options
	cfg     config.Lua
	health  health.Source
	logger  *slog.Logger
	timeout time.Duration
	// maxMemory is lua.config.max_memory in bytes.
	maxMemory int64

	connectTimeout, tlsTimeout time.Duration

	filters []*script
	pool    *statePool
	// files is where loadfile, dofile and require may read.
	files *fileAccess
	once  sync.Once
}

// script is one compiled file.
type script struct {
	name, path string
	proto      *glua.FunctionProto
	// modes it runs in (filters only)
	authenticated, unauthenticated, noAuth bool
}

// NewEngine compiles every lua.filters script. A syntax error names the
// filter, its file and the line.
func NewEngine(opts Options) (*Engine, error) {
	e := &Engine{opts: opts, cfg: opts.Config, health: opts.Health, logger: opts.Logger}
	if e.logger == nil {
		e.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	e.timeout = e.cfg.Config.ScriptTimeout
	if e.timeout <= 0 {
		e.timeout = config.DefaultLuaScriptTimeout
	}
	e.maxMemory = int64(e.cfg.Config.MaxMemory)
	if e.maxMemory <= 0 {
		e.maxMemory = int64(config.DefaultLuaMaxMemory)
	}
	size := e.cfg.Config.VMPoolSize
	if size <= 0 {
		size = config.DefaultLuaVMPoolSize()
	}
	e.connectTimeout, e.tlsTimeout = orDefault(opts.ConnectTimeout), orDefault(opts.TLSTimeout)
	e.files = &fileAccess{}
	e.files.addPackagePath(e.cfg.Config.PackagePath)
	for i, f := range e.cfg.Filters {
		s, err := compile(f.Name, f.ScriptPath)
		if err != nil {
			return nil, fmt.Errorf("lua.filters[%d].script_path: %w", i, err)
		}
		s.authenticated, s.unauthenticated, s.noAuth = f.Modes()
		e.files.addScript(f.ScriptPath)
		e.filters = append(e.filters, s)
	}
	e.pool = newStatePool(size, e.newVM)
	return e, nil
}

func orDefault(d time.Duration) time.Duration {
	if d <= 0 {
		return 5 * time.Second
	}
	return d
}

func compile(name, path string) (*script, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("lua script %q: %w", name, err)
	}
	proto, err := compileSource(src, path, true)
	if err != nil {
		return nil, fmt.Errorf("lua script %q: %w", name, err)
	}
	return &script{name: name, path: path, proto: proto}, nil
}

// Close frees the idle states; runs in flight finish normally.
func (e *Engine) Close() { e.once.Do(e.pool.close) }

// FilterCount is how many filters run for a request in that mode; zero
// means the password result alone decides (contract §1.6).
func (e *Engine) FilterCount(req *Request) int { return len(e.filtersFor(req)) }

func (e *Engine) filtersFor(req *Request) []*script {
	var out []*script
	for _, s := range e.filters {
		switch {
		case req.NoAuth:
			if s.noAuth {
				out = append(out, s)
			}
		case req.Authenticated:
			if s.authenticated {
				out = append(out, s)
			}
		default:
			if s.unauthenticated {
				out = append(out, s)
			}
		}
	}
	return out
}

// runScript takes a state (waiting at most the script timeout), runs one
// script and releases the state, replacing it if the run failed.
func (e *Engine) runScript(ctx context.Context, s *script, kind scriptKind, req *Request, entries []string) (*scriptRun, glua.LValue, glua.LValue, error) {
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	r := newRun(ctx, e, s, kind, req)
	v, err := e.pool.acquire(ctx)
	if err != nil {
		return nil, nil, nil, r.failure("waiting for a free Lua state: "+err.Error(), "")
	}
	ret1, ret2, err := v.execute(r, entries)
	e.pool.release(v, err != nil)
	if err != nil {
		return nil, nil, nil, err
	}
	return r, ret1, ret2, nil
}
