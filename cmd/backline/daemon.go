package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/gateway"
	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/lua"
	"github.com/backline/backline/internal/probe"
	"github.com/backline/backline/internal/server"
	"github.com/backline/backline/internal/state"
)

// daemonOptions are what serve and demo hand the daemon.
type daemonOptions struct {
	cfg *config.Config
	// path is the file a reload reads again; empty (the demo) refuses reloads.
	path   string
	logger *slog.Logger
	// level is the logger's level, which a reload sets from
	// server.log_level; nil makes a change of it need a restart.
	level *slog.LevelVar
	// ln, when not nil, is the already open listener to serve on instead of
	// server.address; listening, when set, is called with the bound address
	// once the listener is open.
	ln        net.Listener
	listening func(addr string)
	// closed, when set, is told each generation the daemon closed (tests).
	closed func(id uint64)
	// gatewayBuilt, when set, runs in a reload right after the new gateway
	// was built, before the Lua engine and the auth handler (tests: they
	// change a file there, as an operator's edit during a reload could, to
	// make the reload fail after the gateway exists).
	gatewayBuilt func()
	// luaHost, when set, is the daemon's Lua host (tests look at it); nil
	// makes a new one.
	luaHost *lua.Host
	// mounts are extra routes of every generation (the demo's /demo page).
	mounts []server.Mount
	// accessLogger, when set, takes the gateway's access lines
	// (gateway.access_log_file); logs are the files SIGUSR1 reopens.
	accessLogger *slog.Logger
	logs         []logOutput
}

// daemon is the long-lived part of a running backline: the listeners, the
// metrics registry, the health engine and the HTTP servers. What a reload
// replaces lives in a generation (see reload.go), which requests pick up
// one at a time through an atomic pointer.
type daemon struct {
	opts      daemonOptions
	logger    *slog.Logger
	reg       *prometheus.Registry
	checker   *probe.Prober
	engine    *health.Engine
	srv       *server.Server
	gwMetrics *gateway.Metrics // nil without gateway.address
	luaStats  *luaStatsSum
	reloads   *reloadMetrics
	shared    *adminSharer             // nil without storage.redis
	throttles *gateway.SharedThrottles // nil without storage.redis or gateway.address

	// authCache is the shared auth cache; nil without storage.redis.
	authCache *state.FallbackAuthCacheStore
	// affinity is the sticky policy's store, kept across reloads: on
	// storage.redis when configured, else in memory.
	affinity state.AffinityStore
	// luaHost is what the Lua modules keep across reloads (caches, metrics).
	luaHost *lua.Host

	cur      atomic.Pointer[generation]
	reloadMu sync.Mutex // one reload at a time
	// tls are the TLS listeners (server.tls, gateway.tls); set once by
	// serve under reloadMu.
	tls listenerTLS

	// Replaced generations close in the background, so the last request
	// on one never waits for it (a Lua engine may wait for a stuck run);
	// stop waits for them.
	closeMu sync.Mutex
	stopped bool
	closing sync.WaitGroup

	// afterLoad runs in acquire between reading the pointer and taking the
	// reference (tests: a reload lands exactly there); nil in production.
	afterLoad func()
}

// runDaemon runs the health engine and the HTTP server of cfg until ctx is
// done, without a file to reload (the demo, tests). serve and demo share
// the daemon, so the demo exercises the real path.
func runDaemon(ctx context.Context, cfg *config.Config, logger *slog.Logger, ln net.Listener, listening func(addr string)) error {
	return runDaemonWith(ctx, daemonOptions{cfg: cfg, logger: logger, ln: ln, listening: listening})
}

// runDaemonWith starts the daemon of opts and serves until ctx is done.
func runDaemonWith(ctx context.Context, opts daemonOptions) error {
	cfg, logger := opts.cfg, opts.logger
	d := &daemon{opts: opts, logger: logger, reg: prometheus.NewRegistry(), luaHost: opts.luaHost,
		checker: &probe.Prober{Logger: logger}, luaStats: newLuaStatsSum()}
	if d.luaHost == nil {
		d.luaHost = lua.NewHost()
	}
	// Reopening needs nothing built: a rotation during a slow start is
	// not missed.
	stopReopens := d.handleReopens()
	defer stopReopens()
	d.luaHost.Registerer = d.reg // nauthilus_prometheus vectors on /metrics, kept across reloads
	// The db module's pools outlive reloads; they close when the daemon stops.
	defer d.luaHost.CloseDBPools()
	d.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), buildInfo())
	d.reg.MustRegister(lua.StatsCollectors(d.luaStats.stats)...)
	d.reloads = newReloadMetrics(d.reg)
	logWarnings(logger, cfg)

	if cfg.Gateway.Address != "" {
		m, err := gateway.NewMetrics(d.reg)
		if err != nil {
			return err
		}
		d.gwMetrics = m
	}
	throttles, throttleClient, err := setupSharedThrottles(cfg, logger, d.reg)
	if err != nil {
		return err
	}
	if throttleClient != nil {
		defer throttleClient.Close()
	}
	d.throttles = throttles
	gw, groups, err := d.buildGateway(cfg)
	if err != nil {
		return err
	}
	d.engine, err = health.New(groups, d.checker, health.Options{Logger: logger, Registerer: d.reg})
	if err != nil {
		closeGateway(gw)
		return err
	}
	setupAdminState(cfg, d.engine, logger)
	shared, redisClient, err := setupSharedAdmin(cfg, d.engine, logger, d.reg, d.luaHost.RedisReplyGuard())
	if err != nil {
		closeGateway(gw)
		return err
	}
	if redisClient != nil {
		defer redisClient.Close()
		// nauthilus_redis's "default" is the same client; pools scripts
		// register are closed before it.
		d.luaHost.SetRedis(redisClient, cfg.Storage.Redis, cfg.Lua.Config.RedisAllowedAddresses)
		defer d.luaHost.CloseRedisPools()
	}
	d.shared = shared
	if d.authCache, err = newAuthCacheStore(cfg, redisClient, logger, d.reg); err != nil {
		closeGateway(gw)
		return err
	}
	d.affinity = newAffinityStore(cfg, redisClient)
	if err := setupProbeLeases(cfg, d.engine, redisClient, logger, d.reg); err != nil {
		closeGateway(gw)
		return err
	}
	if err := setupUptimeStore(cfg, d.engine, redisClient, logger); err != nil {
		closeGateway(gw)
		return err
	}
	// The view reads the shared gateway metrics, which follow whichever
	// gateway a reload activates. Taking them once here is enough because
	// a reload cannot add the gateway (gateway.address is restart-only,
	// TestReloadCannotAddTheGateway).
	var slowStart func(time.Time) map[string]health.SlowStartRamp
	if d.gwMetrics != nil {
		slowStart = d.gwMetrics.SlowStartRamps
	}
	d.srv = server.New(server.Options{
		Address:  cfg.Server.Address,
		Snapshot: d.engine,
		Gatherer: d.reg,
		Logger:   logger,
		APIAuth:  cfg.Server.APIAuth,
		Version:  versionString(),
		Router:   d,
		Reloader: d,

		ShutdownDelay: cfg.Server.ShutdownDelay,
		SlowStart:     slowStart,
	})
	first, err := d.finish(cfg, gw, groups)
	if err != nil {
		return err
	}
	first.id = 1
	d.activate(first)
	// Init scripts run once per process, on the first generation's engine
	// once the Lua host has its settings, before anything is served; a
	// failing one is logged and the daemon starts anyway (lua/init.go).
	first.lua.RunInitScripts(ctx)
	d.reloads.succeeded()
	defer d.stop()
	// A SIGHUP before this point is ignored (see run in main.go).
	stopHangups := d.handleHangups()
	defer stopHangups()
	return d.serve(ctx, gw != nil)
}

// serve opens the listeners and serves until ctx is done. Listeners are
// opened once: a reload never closes or reopens them.
func (d *daemon) serve(ctx context.Context, withGateway bool) error {
	cfg, logger, ln := d.opts.cfg, d.logger, d.opts.ln
	var err error
	if ln == nil {
		if ln, err = net.Listen("tcp", cfg.Server.Address); err != nil {
			return fmt.Errorf("server.address %q: %w", cfg.Server.Address, err)
		}
	}
	// Each listener has its own cap, so a flood on the gateway leaves the
	// API (/healthz, the auth endpoints) and the probes their descriptors.
	caps := resolveConnectionCaps(cfg)
	caps.report(logger, withGateway)
	ln = limitListener("api", ln, caps.api, logger, d.reg)
	var gwLn net.Listener
	if withGateway {
		if gwLn, err = net.Listen("tcp", cfg.Gateway.Address); err != nil {
			ln.Close()
			return fmt.Errorf("gateway.address %q: %w", cfg.Gateway.Address, err)
		}
		gwLn = limitListener("gateway", gwLn, caps.gateway, logger, d.reg)
	}
	if ln, gwLn, err = d.startTLS(ln, gwLn); err != nil {
		return err
	}
	if d.opts.listening != nil {
		d.opts.listening(ln.Addr().String())
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The engine and the gateway run on until the API server has finished
	// its shutdown (server.shutdown_delay with /readyz at 503, then the
	// grace), so the gateway's listener does not close before the API's.
	runCtx, stopRun := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRun()
	var wg sync.WaitGroup
	wg.Go(func() { d.engine.Run(runCtx) })
	if d.shared != nil {
		wg.Go(func() { d.shared.run(runCtx, sharedAdminInterval) })
	}
	if withGateway {
		gwLog := logger.With("component", "gateway")
		wg.Go(func() {
			if err := gateway.ServeHandler(runCtx, gwLn, http.HandlerFunc(d.serveGateway), gwLog, cfg.Gateway.HTTP1Server); err != nil && runCtx.Err() == nil {
				logger.Error("gateway stopped", "error", err)
				cancel() // one failed listener stops the daemon: a half-up gateway is worse
			}
		})
		// Panic verdicts follow health changes, not only requests.
		wg.Go(func() { d.gwMetrics.FollowHealth(runCtx, d.engine) })
		logger.Info("gateway listening", "address", gwLn.Addr().String())
	}
	logger.Info("backline started", "version", versionString(), "targets", len(d.engine.Snapshot().Backends))
	err = d.srv.ServeListener(ctx, ln)
	cancel()  // a failed listener stops the engine too
	stopRun() // the API server is done: the gateway and the engine stop now
	wg.Wait()
	logger.Info("backline stopped")
	return err
}

// stop retires the current generation once the servers have stopped; a
// reload after it is refused.
func (d *daemon) stop() {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	d.cur.Load().retire()
	d.closeMu.Lock()
	d.stopped = true
	d.closeMu.Unlock()
	d.closing.Wait()
}

// scheduleClose closes g in the background, or at once after stop (a
// request that outlived the servers' shutdown grace).
func (d *daemon) scheduleClose(g *generation) {
	d.closeMu.Lock()
	if d.stopped {
		d.closeMu.Unlock()
		d.closeGeneration(g)
		return
	}
	d.closing.Add(1)
	d.closeMu.Unlock()
	go func() {
		defer d.closing.Done()
		d.closeGeneration(g)
	}()
}

// Routes gives an API request the current generation's routes
// (server.Router); release lets the generation go.
func (d *daemon) Routes() (http.Handler, func()) {
	g := d.acquire()
	return g.routes, g.releaseFunc
}

// serveGateway runs one gateway request on the current generation's
// gateway; the generation stays open until the response has been sent.
func (d *daemon) serveGateway(w http.ResponseWriter, r *http.Request) {
	g := d.acquire()
	defer g.release()
	g.gw.ServeHTTP(w, r)
}

// acquire pins the current generation for one request. The pointer is read
// again after taking the reference: a generation replaced in between may
// already have been closed, so the request retries on the new one.
func (d *daemon) acquire() *generation {
	for {
		g := d.cur.Load()
		if d.afterLoad != nil {
			d.afterLoad()
		}
		g.refs.Add(1)
		if d.cur.Load() == g {
			return g
		}
		g.release()
	}
}

// buildGateway compiles cfg's gateway (nil without gateway.address) and
// lists the health groups of cfg: the mail group, then the gateway's.
func (d *daemon) buildGateway(cfg *config.Config) (*gateway.Gateway, []health.Group, error) {
	groups, err := healthGroups(cfg, d.logger)
	if err != nil {
		return nil, nil, err
	}
	gw, err := newGatewayLogs(cfg, d.logger, d.opts.accessLogger, d.gwMetrics, d.throttles)
	if err != nil {
		return nil, nil, err
	}
	if gw != nil {
		// beta_health probes run on the same engine as the mail checks, so
		// they share scheduling, the status API and the metrics.
		groups = append(groups, gw.HealthGroups()...)
	}
	return gw, groups, nil
}

// finish builds the rest of a generation around gw: the Lua engine, the
// auth endpoints and the API routes. On error it closes what it built, gw
// included.
func (d *daemon) finish(cfg *config.Config, gw *gateway.Gateway, groups []health.Group) (*generation, error) {
	mounts, luaEngine, err := extraMounts(cfg, d.engine, d.checker, d.reg, d.logger, d.sharedAuthCache(cfg), d.affinity, d.luaHost)
	if err != nil {
		closeGateway(gw)
		return nil, err
	}
	mounts = append(mounts, d.opts.mounts...)
	if cfg.Server.Pprof {
		mounts = append(mounts, server.PprofMount{})
	}
	routes, err := d.srv.Routes(cfg.Server.APIAuth, mounts)
	if err != nil {
		luaEngine.Close()
		closeGateway(gw)
		return nil, err
	}
	if gw != nil {
		gw.SetHealth(d.engine)
	}
	g := &generation{cfg: cfg, routes: routes, gw: gw, lua: luaEngine, groups: groups, closer: d.scheduleClose}
	g.releaseFunc = g.release
	return g, nil
}

// activate makes g the generation new requests run on. Nothing fails
// after it, so the Lua host, shared with the generation being replaced,
// takes g's settings only here: a reload that failed after building g's
// engine leaves them as they were.
func (d *daemon) activate(g *generation) {
	d.luaStats.add(g.lua)
	if g.gw != nil {
		g.gw.Activate()
	}
	d.cur.Store(g)
	g.lua.ApplyHostSettings()
}

// closeGeneration frees a replaced generation once its last request ended.
func (d *daemon) closeGeneration(g *generation) {
	g.lua.Close()
	d.luaStats.fold(g.lua)
	if g.gw != nil {
		g.gw.Close()
		if cur := d.cur.Load(); cur != g {
			d.gwMetrics.ForgetUnused(g.gw)
		}
	}
	if d.opts.closed != nil {
		d.opts.closed(g.id)
	}
}

func closeGateway(gw *gateway.Gateway) {
	if gw != nil {
		gw.Close()
	}
}

// logWarnings logs cfg's warnings, but the one about server.address: the
// server warns about the listener it really opened.
func logWarnings(logger *slog.Logger, cfg *config.Config) {
	for _, w := range cfg.Warnings() {
		if strings.HasPrefix(w, "server.address ") {
			continue
		}
		logger.Warn("configuration warning", "warning", w)
	}
}
