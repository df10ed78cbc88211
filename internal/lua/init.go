package lua

import (
	"context"
	"fmt"
	"log/slog"
	"sort"

	glua "github.com/yuin/gopher-lua"
)

// Init scripts (lua.config.init_script_path, init_script_paths) are what
// Nauthilus runs once at start-up: deployments create their
// nauthilus_prometheus vectors and register their nauthilus_redis pools
// there, both kept by the Host, so the filters that use them find them.
// Each runs as a script of its own kind: the modules of a password script
// except the request-bound ones (initPlaceholders), a fresh
// nauthilus_context that is thrown away, and nauthilus_run_hook(logging)
// as the entry.

// initPlaceholders are the modules an init script gets as the empty
// placeholder, as in Nauthilus: there is no request, no response and no
// routing at start-up.
var initPlaceholders = []string{"nauthilus_http_request", "nauthilus_http_response", "nauthilus_backend"}

var initEntries = []string{"nauthilus_run_hook"}

// maxInitResultFields bounds what of an init script's result table is
// logged (a script's table is not a log line's worth of data).
const maxInitResultFields = 32

// compileInitScripts compiles cfg's init scripts into e.inits.
func (e *Engine) compileInitScripts() error {
	for _, is := range e.cfg.Config.InitScripts() {
		s, err := compile(is.Path, is.Path)
		if err == nil {
			err = e.checkRedisAvailable(s)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", is.Key, err)
		}
		e.files.addScript(is.Path)
		e.inits = append(e.inits, s)
	}
	return nil
}

// RunInitScripts runs every init script once, in config order, each bounded
// by lua.config.script_timeout and max_memory like any run. A failing
// script is logged at ERROR (by the run, with script, path and reason)
// and the next one runs: a script fails itself, never the daemon. It
// returns how many failed.
func (e *Engine) RunInitScripts(ctx context.Context) (failed int) {
	for _, s := range e.inits {
		// A fresh request: its context is discarded with it, and
		// logging is the log_format/log_level filters see.
		req := (&Request{}).withContext()
		r, result, _, err := e.runScript(ctx, s, kindInit, req, initEntries)
		if err != nil {
			failed++
			continue
		}
		attrs := []any{"script", s.name}
		if t, ok := result.(*glua.LTable); ok {
			attrs = append(attrs, slog.Group("result", initResultAttrs(r, t)...))
		}
		e.logger.Info("Lua init script ran", attrs...)
	}
	return failed
}

// initResultAttrs are the scalar fields of an init script's result table
// (Nauthilus logs them: level, caller, what the script did), sorted, at
// most maxInitResultFields (level, caller and status always, when set),
// strings redacted and clipped like error text. It reads the table after
// the run; init scripts run alone, before serving.
func initResultAttrs(r *scriptRun, t *glua.LTable) []any {
	var keys []string
	values := map[string]any{}
	add := func(k, v glua.LValue) {
		ks, ok := k.(glua.LString)
		if !ok || len(values) >= maxInitResultFields {
			return
		}
		// A key is cut and made printable like a syntax error's token:
		// string.rep as a key is no log line.
		key := printableToken(r.redact(string(ks)))
		if _, dup := values[key]; dup {
			return
		}
		switch x := v.(type) {
		case glua.LString:
			values[key] = clipErrorText(r.redact(string(x)), 0)
		case glua.LNumber:
			values[key] = float64(x)
		case glua.LBool:
			values[key] = bool(x)
		default:
			return
		}
		keys = append(keys, key)
	}
	for _, name := range []string{"level", "caller", "status"} {
		add(glua.LString(name), t.RawGetString(name))
	}
	t.ForEach(add)
	sort.Strings(keys)
	out := make([]any, 0, 2*len(keys))
	for _, k := range keys {
		out = append(out, k, values[k])
	}
	return out
}
