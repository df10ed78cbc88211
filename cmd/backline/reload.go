package main

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/lua"
	"github.com/backline/backline/internal/server"
)

// errNoFile refuses a reload of a daemon started without a file (the demo).
var errNoFile = errors.New("this daemon was started without a configuration file (demo); there is nothing to reload")

// Reload reads the configuration file again and, when all of it is valid
// and built, swaps it in (SIGHUP and POST /api/v1/reload). On any error
// the running configuration stays; every error is logged and returned.
// Reloads run one at a time.
func (d *daemon) Reload() server.ReloadResult {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	start := time.Now()
	d.logger.Info("configuration reload started", "file", d.opts.path)
	gen, errs := d.reloadLocked()
	res := server.ReloadResult{Duration: time.Since(start), Errors: errs}
	if len(errs) > 0 {
		res.Generation = d.cur.Load().id
		for _, e := range errs {
			d.logger.Error("configuration reload error", "error", e)
		}
		d.logger.Error("configuration reload failed; the running configuration stays",
			"file", d.opts.path, "errors", len(errs), "generation", res.Generation)
		d.reloads.failed()
		return res
	}
	res.Generation = gen.id
	d.reloads.reloaded()
	d.logger.Info("configuration reloaded", "file", d.opts.path, "generation", gen.id,
		"duration", res.Duration, "targets", len(d.engine.Snapshot().Backends))
	return res
}

// reloadLocked loads, validates and builds the new generation, then swaps
// it in; errs lists every problem, with key path and line where known.
func (d *daemon) reloadLocked() (gen *generation, errs []string) {
	old := d.cur.Load()
	if old == nil || old.retired.Load() {
		return nil, []string{"the daemon is stopping"}
	}
	if d.opts.path == "" {
		return nil, []string{errNoFile.Error()}
	}
	cfg, err := config.Load(d.opts.path)
	if err == nil {
		// The same checks as serve and check: Lua syntax errors come with
		// their key path and line before anything is built.
		err = lua.CompileScripts(cfg)
	}
	if err != nil {
		return nil, errorLines(err)
	}
	if errs := d.restartOnly(old.cfg, cfg); len(errs) > 0 {
		return nil, errs
	}
	if errs := loadListenerTLS(cfg); len(errs) > 0 {
		return nil, errs
	}
	gw, groups, err := d.buildGateway(cfg)
	if err != nil {
		return nil, errorLines(err)
	}
	if d.opts.gatewayBuilt != nil {
		d.opts.gatewayBuilt()
	}
	gen, err = d.finish(cfg, gw, groups)
	if err != nil {
		return nil, errorLines(err)
	}
	// Health last: it is the one step that changes shared state, and the
	// engine keeps the state of the backends that stay.
	if err := d.engine.Reconfigure(groups); err != nil {
		gen.retire()
		return nil, errorLines(err)
	}
	if d.opts.level != nil {
		d.opts.level.Set(logLevel(cfg.Server.LogLevel))
	}
	gen.id = old.id + 1
	d.activate(gen)
	d.applyListenerTLS(cfg)
	old.retire()
	logWarnings(d.logger, cfg)
	return gen, nil
}

// errorLines splits err into one line per problem.
func errorLines(err error) []string {
	var errs config.Errors
	if errors.As(err, &errs) {
		out := make([]string, len(errs))
		for i, e := range errs {
			out[i] = e.Error()
		}
		return out
	}
	return []string{err.Error()}
}

// restartOnly refuses changes a running daemon cannot apply: the listeners
// are never closed or reopened (no refused connection during a reload), and
// the log format is the logger's. A refused change refuses the whole
// reload, so what runs is always one file as a whole.
func (d *daemon) restartOnly(old, cfg *config.Config) []string {
	var errs config.Errors
	check := func(key, was, now string) {
		if was != now {
			errs.Add(key, cfg.Lines.Line(key), "changed from %q to %q; a running daemon cannot apply this, restart backline", was, now)
		}
	}
	check("server.address", old.Server.Address, cfg.Server.Address)
	check("server.max_connections", strconv.Itoa(old.Server.MaxConnections), strconv.Itoa(cfg.Server.MaxConnections))
	check("server.log_format", old.Server.LogFormat, cfg.Server.LogFormat)
	// serve opens the log files once; SIGUSR1 reopens the same paths.
	check("server.log_file", old.Server.LogFile, cfg.Server.LogFile)
	check("gateway.access_log_file", old.Gateway.AccessLogFile, cfg.Gateway.AccessLogFile)
	if d.opts.level == nil {
		check("server.log_level", old.Server.LogLevel, cfg.Server.LogLevel)
	}
	// The admin state file is read once at start, and the shutdown delay
	// is taken from the configuration the daemon started with.
	check("server.state_file", old.Server.StateFile, cfg.Server.StateFile)
	check("server.shutdown_delay", old.Server.ShutdownDelay.String(), cfg.Server.ShutdownDelay.String())
	// The Redis client and the sharing are set up once; compared whole, and
	// never printed (it holds passwords).
	if !reflect.DeepEqual(old.Storage.Redis, cfg.Storage.Redis) {
		errs.Add("storage.redis", cfg.Lines.Line("storage.redis"), "changed; a running daemon cannot apply this, restart backline")
	}
	// nauthilus_redis's allowed pool servers are given to the Lua host once.
	check("lua.config.redis_allowed_addresses", strings.Join(old.Lua.Config.RedisAllowedAddresses, ","),
		strings.Join(cfg.Lua.Config.RedisAllowedAddresses, ","))
	// Init scripts run once at start, as in Nauthilus; a reload keeps
	// what they set up (the Lua host's metrics and pools).
	check("lua.config.init_script_path", old.Lua.Config.InitScriptPath, cfg.Lua.Config.InitScriptPath)
	check("lua.config.init_script_paths", strings.Join(old.Lua.Config.InitScriptPaths, ","),
		strings.Join(cfg.Lua.Config.InitScriptPaths, ","))
	check("gateway.address", old.Gateway.Address, cfg.Gateway.Address)
	check("gateway.max_connections", strconv.Itoa(old.Gateway.MaxConnections), strconv.Itoa(cfg.Gateway.MaxConnections))
	check("gateway.http1_server", old.Gateway.HTTP1Server, cfg.Gateway.HTTP1Server)
	// A listener is opened once, plain or TLS; what a TLS one serves
	// (certificates, client CAs, min_version, http2) a reload applies.
	check("server.tls", tlsOnOff(old.Server.TLS), tlsOnOff(cfg.Server.TLS))
	check("gateway.tls", tlsOnOff(old.Gateway.TLS), tlsOnOff(cfg.Gateway.TLS))
	return errorLinesOf(errs)
}

func errorLinesOf(errs config.Errors) []string {
	if len(errs) == 0 {
		return nil
	}
	return errorLines(errs)
}
