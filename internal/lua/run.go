package lua

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync/atomic"
	"time"

	glua "github.com/yuin/gopher-lua"

	"github.com/backline/backline/internal/health"
)

type scriptKind int

const (
	runActive int32 = iota
	runFinished
	runAbandoned
)

const (
	kindFilter scriptKind = iota
	kindPassword
	kindInit
)

// scriptRun is one script serving one request: its inputs and everything
// it accumulates through the module functions.
type scriptRun struct {
	engine *Engine
	script *script
	kind   scriptKind
	req    *Request
	// entries are the entry function names tried in order.
	entries []string
	// done receives the run's result from the state's goroutine (the
	// state's own channel, or the request's for parallel filters); index
	// is the run's place among the request's filters.
	done  chan jobResult
	index int
	// releaseHere: the state's goroutine releases the state (see serve).
	releaseHere bool
	ctx         context.Context
	cancel      context.CancelFunc
	// stopped is why stop cancelled the run (the first reason wins); a
	// cause of its own instead of context.WithCancelCause saves a context,
	// its registration with the parent and their allocations per run.
	stopped atomic.Pointer[stopCause]
	state   *vm

	// phase moves from runActive to runFinished (the goroutine ended in
	// time) or runAbandoned (the caller gave up), exactly once.
	phase atomic.Int32
	// reported is set by whoever logs the run's failure first.
	reported atomic.Bool
	// measureDue asks the run to measure itself at its next instruction;
	// measured is the last result, nextMeasure the earliest next (UnixNano).
	measureDue            atomic.Bool
	measured, nextMeasure atomic.Int64
	// watchedSince is when the watchdog registered the run; the state's
	// watchTimer starts the watchdog once it has lasted watchTick.
	watchedSince time.Time
	// instructions counts VM instructions; retained is what chargeRetained
	// added since the last measurement; walks counts measurements (run
	// goroutine only, all three).
	instructions uint64
	retained     int64
	walks        int
	// timedOutIn names the native call that gave up at the deadline (a
	// slow password hash), for the timeout's message (run goroutine only).
	timedOutIn string

	snap    *health.Snapshot
	snapped bool
	secrets []string

	selected      *Selection
	attributes    map[string]any
	groups        []string
	groupDNs      []string
	remove        []string
	statusMessage string
	statusSet     bool
	logs          []LogField
	// ctxOverlay are the run's nauthilus_context writes (module_context.go).
	ctxOverlay contextOverlay
	// cacheUpdating are the keys this run's cache_update calls hold.
	cacheUpdating map[string]bool
	// baggage is nauthilus_opentelemetry's baggage of this run.
	baggage baggage
	// suppressed names the side effects a dry run skipped (dryrun.go).
	suppressed []string
}

// LogField is one custom_log_add entry; values are bool, float64 or string.
type LogField struct {
	Key   string
	Value any
}

func newRun(ctx context.Context, e *Engine, s *script, kind scriptKind, req *Request) *scriptRun {
	return &scriptRun{engine: e, script: s, kind: kind, req: req, ctx: ctx}
}

func (r *scriptRun) vm() *vm { return r.state }

// snapshot is taken once per run so a script sees one consistent list.
func (r *scriptRun) snapshot() *health.Snapshot {
	if !r.snapped {
		r.snapped = true
		if r.req != nil && r.req.Snapshot != nil {
			r.snap = r.req.Snapshot
		} else if r.engine.health != nil {
			r.snap = r.engine.health.Snapshot()
		}
	}
	return r.snap
}

// redact removes the request password and the targets' test passwords from
// text bound for a log line or an error.
func (r *scriptRun) redact(s string) string {
	if r.secrets == nil {
		r.secrets = []string{}
		if r.req != nil && r.req.Password != "" {
			r.secrets = append(r.secrets, r.req.Password)
		}
		if lookup, ok := r.engine.health.(health.TargetLookup); ok {
			r.secrets = append(r.secrets, lookup.TestPasswords()...)
		}
	}
	for _, secret := range r.secrets {
		s = strings.ReplaceAll(s, secret, "<redacted>")
	}
	return s
}

// ScriptError is a failed script run. Its message names the script and never
// contains the request password.
type ScriptError struct {
	Script string
	Msg    string
	// Timeout is set when the script ran out of lua.config.script_timeout.
	Timeout bool
	// Canceled is set when the run was stopped because the request ended or
	// a parallel filter failed.
	Canceled bool
	// Memory is set when the run was stopped for lua.config.max_memory or
	// the process-wide soft limit.
	Memory bool
}

func (e *ScriptError) Error() string { return fmt.Sprintf("lua script %q: %s", e.Script, e.Msg) }

// execute runs the chunk in an empty environment, then calls entry(request).
// It returns entry's first two results.
func (v *vm) execute(r *scriptRun, entries []string) (ret1, ret2 glua.LValue, err error) {
	L := v.L
	defer func() {
		if p := recover(); p != nil {
			err = r.failure(fmt.Sprintf("panic: %v", p), "")
		}
		v.unbind()
	}()
	env := v.bind(r)
	v.runCtx = newRunContext(r, L)
	L.SetContext(&v.runCtx)

	L.Push(v.chunk(r.script, env))
	if err := L.PCall(0, 0, nil); err != nil {
		return nil, nil, r.luaFailure(err)
	}

	var entry *glua.LFunction
	for _, name := range entries {
		if fn, ok := env.RawGetString(name).(*glua.LFunction); ok {
			entry = fn
			break
		}
		if fn, ok := v.globals.RawGetString(name).(*glua.LFunction); ok {
			entry = fn
			break
		}
	}
	if entry == nil {
		return nil, nil, r.failure(fmt.Sprintf("entry function '%s' is not defined", entries[0]), "")
	}
	L.Push(entry)
	arg := r.req.table(v)
	if r.kind == kindInit {
		// nauthilus_run_hook(logging): the request's logging table.
		arg = v.loggingTable.t
	}
	L.Push(arg)
	if err := L.PCall(1, 2, nil); err != nil {
		return nil, nil, r.luaFailure(err)
	}
	ret1, ret2 = L.Get(-2), L.Get(-1)
	L.Pop(2)
	return ret1, ret2, nil
}

func (r *scriptRun) luaFailure(err error) error {
	msg, trace := err.Error(), ""
	var apiErr *glua.ApiError
	if errors.As(err, &apiErr) {
		msg, trace = apiErr.Object.String(), apiErr.StackTrace
	}
	return r.failure(msg, trace)
}

type stopCause struct{ err error }

// cause is the reason the run was stopped, else the context's.
func (r *scriptRun) cause() error {
	if c := r.stopped.Load(); c != nil {
		return c.err
	}
	return context.Cause(r.ctx)
}

const waitingForState = "waiting for a free Lua state"

// maxScriptErrorText bounds a script's error message in the error and the
// log: error(string.rep("x", 6e7)) is one request's failure, not a 60 MB
// log line per request.
const maxScriptErrorText = 4096

// clipErrorText cuts s; cut is how much was cut from it already.
func clipErrorText(s string, cut int) string {
	if len(s) <= maxScriptErrorText && cut == 0 {
		return s
	}
	keep := min(len(s), maxScriptErrorText)
	return fmt.Sprintf("%s... (%d bytes more)", strings.ToValidUTF8(s[:keep], ""), len(s)-keep+cut)
}

// failure builds the ScriptError and logs it once, with the Lua stack trace.
func (r *scriptRun) failure(msg, trace string) error {
	se := &ScriptError{Script: r.script.name}
	cause := r.cause()
	switch ctxErr := r.ctx.Err(); {
	case errors.Is(cause, errMemoryBudget) || errors.Is(cause, errProcessLimit):
		se.Memory = true
		se.Msg = cause.Error()
	case errors.Is(ctxErr, context.DeadlineExceeded):
		se.Timeout = true
		se.Msg = fmt.Sprintf("timed out after %s", r.engine.timeout)
		if strings.HasPrefix(msg, waitingForState) {
			se.Msg += " " + waitingForState
		}
		if r.timedOutIn != "" {
			se.Msg += " in " + r.timedOutIn
		}
	case ctxErr != nil:
		se.Canceled = true
		se.Msg = "canceled: " + ctxErr.Error()
	default:
		// Scrubbed before the final cut (which must not keep part of a
		// password), after a first cut that leaves room for any password.
		rest := max(len(msg)-2*maxScriptErrorText, 0)
		se.Msg = clipErrorText(r.redact(msg[:len(msg)-rest]), rest)
	}
	if se.Canceled || !r.reported.CompareAndSwap(false, true) {
		// The cause (a sibling filter, the client) is logged where it
		// happened; an abandoned run was logged by its caller.
		return se
	}
	r.logFailure(se, r.redact(trace))
	return se
}

// abandon is failure for a run its caller stopped waiting for. It runs on
// the caller's goroutine while the script may still run, so it reads only
// what never changes during a run.
func (r *scriptRun) abandon() error {
	se := &ScriptError{Script: r.script.name}
	cause := r.cause()
	switch {
	case errors.Is(cause, errMemoryBudget) || errors.Is(cause, errProcessLimit):
		se.Memory = true
		se.Msg = cause.Error()
	case errors.Is(r.ctx.Err(), context.DeadlineExceeded):
		se.Timeout = true
		se.Msg = fmt.Sprintf("timed out after %s", r.engine.timeout)
	default:
		se.Canceled = true
		se.Msg = "canceled: " + r.ctx.Err().Error()
	}
	se.Msg += " (stopped waiting for it inside a native call; its state is discarded when the call returns)"
	if !se.Canceled && r.reported.CompareAndSwap(false, true) {
		r.logFailure(se, "")
	}
	return se
}

func (r *scriptRun) logFailure(se *ScriptError, trace string) {
	what := "Lua filter failed"
	switch r.kind {
	case kindPassword:
		what = "Lua password script failed"
	case kindInit:
		what = "Lua init script failed"
	}
	r.engine.logger.Error(what, "script", r.script.name, "path", r.script.path,
		"error", se.Msg, "stacktrace", trace, "session", r.req.Session)
}

// resultCode reads a script's second return value as Nauthilus does:
// non-numbers count as 0.
func resultCode(v glua.LValue) int {
	if n, ok := v.(glua.LNumber); ok {
		return int(n)
	}
	return 0
}

// mergeAttributes copies src over the run's attributes (later wins).
func (r *scriptRun) mergeAttributes(src map[string]any) {
	if r.attributes == nil {
		r.attributes = map[string]any{}
	}
	maps.Copy(r.attributes, src)
}

var builtinFunctions = map[string]runFunc{
	"custom_log_add": func(r *scriptRun, L *glua.LState) int {
		key := L.CheckString(1)
		var value any
		switch x := L.Get(2).(type) {
		case glua.LBool:
			value = bool(x)
		case glua.LNumber:
			value = float64(x)
		case glua.LString:
			value = string(x)
		default:
			value = "UNSUPPORTED"
		}
		r.addLog(key, value)
		return 0
	},
	"status_message_set": func(r *scriptRun, L *glua.LState) int {
		r.statusMessage = L.CheckString(1)
		r.statusSet = true
		return 0
	},
}
