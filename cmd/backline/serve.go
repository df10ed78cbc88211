package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/probe"
	"github.com/backline/backline/internal/server"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "configuration file")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *path == "" {
		fmt.Fprintln(stderr, "backline serve: --config FILE is required")
		return exitUsage
	}
	cfg, err := loadConfig(*path, stderr)
	if err != nil {
		return exitFail
	}
	logger, err := newLogger(stderr, cfg.Server.LogLevel, cfg.Server.LogFormat)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	if err := runDaemon(ctx, cfg, logger, nil, nil); err != nil {
		logger.Error("backline stopped with an error", "error", err)
		return exitFail
	}
	return exitOK
}

// runDaemon runs the health engine and the HTTP server of cfg until ctx is
// done. serve and demo share it, so the demo exercises the real path.
// ln, when not nil, is the already open listener to serve on instead of
// server.address; listening, when set, is called with the bound address once
// the listener is open.
func runDaemon(ctx context.Context, cfg *config.Config, logger *slog.Logger, ln net.Listener, listening func(addr string)) error {
	stopHangups := ignoreHangups(logger)
	defer stopHangups()
	for _, w := range cfg.Warnings() {
		if strings.HasPrefix(w, "server.address ") {
			continue // the server warns about the listener it really opened
		}
		logger.Warn("configuration warning", "warning", w)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	groups, err := healthGroups(cfg, logger)
	if err != nil {
		return err
	}
	gw, err := newGateway(cfg, logger, reg)
	if err != nil {
		return err
	}
	if gw != nil {
		// beta_health probes run on the same engine as the mail checks, so
		// they share scheduling, the status API and the metrics.
		groups = append(groups, gw.HealthGroups()...)
	}
	checker := &probe.Prober{Logger: logger}
	engine, err := health.New(groups, checker, health.Options{Logger: logger, Registerer: reg})
	if err != nil {
		return err
	}
	setupAdminState(cfg, engine, logger)
	mounts, stopMounts, err := extraMounts(cfg, engine, checker, reg, logger)
	if err != nil {
		return err
	}
	defer stopMounts()
	srv := server.New(server.Options{
		Address:  cfg.Server.Address,
		Snapshot: engine,
		Gatherer: reg,
		Logger:   logger,
		APIAuth:  cfg.Server.APIAuth,
		Mounts:   mounts,
		Version:  versionString(),

		ShutdownDelay: cfg.Server.ShutdownDelay,
	})
	if ln == nil {
		if ln, err = net.Listen("tcp", cfg.Server.Address); err != nil {
			return fmt.Errorf("server.address %q: %w", cfg.Server.Address, err)
		}
	}
	// Each listener has its own cap, so a flood on the gateway leaves the
	// API (/healthz, the auth endpoints) and the probes their descriptors.
	caps := resolveConnectionCaps(cfg)
	caps.report(logger, gw != nil)
	ln = limitListener("api", ln, caps.api, logger, reg)
	var gwLn net.Listener
	if gw != nil {
		if gwLn, err = net.Listen("tcp", cfg.Gateway.Address); err != nil {
			ln.Close()
			return fmt.Errorf("gateway.address %q: %w", cfg.Gateway.Address, err)
		}
		gwLn = limitListener("gateway", gwLn, caps.gateway, logger, reg)
	}
	if listening != nil {
		listening(ln.Addr().String())
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { engine.Run(ctx) })
	if gw != nil {
		gw.SetHealth(engine)
		wg.Go(func() {
			if err := gw.ServeListener(ctx, gwLn); err != nil && ctx.Err() == nil {
				logger.Error("gateway stopped", "error", err)
				cancel() // one failed listener stops the daemon: a half-up gateway is worse
			}
		})
		logger.Info("gateway listening", "address", gwLn.Addr().String())
	}
	logger.Info("backline started", "version", versionString(), "targets", len(engine.Snapshot().Backends))
	err = srv.ServeListener(ctx, ln)
	cancel() // a failed listener stops the engine too
	wg.Wait()
	logger.Info("backline stopped")
	return err
}

// healthGroups builds the groups to probe from cfg; today the mail group of
// auth.services.backend_health_checks.
func healthGroups(cfg *config.Config, logger *slog.Logger) ([]health.Group, error) {
	hc := cfg.Auth.Services.BackendHealthChecks
	switch {
	case !cfg.ServiceEnabled(config.ServiceBackendHealthChecks):
		logger.Info("Backend health-check service is not enabled")
		return nil, nil
	case len(hc.Targets) == 0:
		logger.Error("no health-check targets configured")
		return nil, nil
	}
	g, err := server.MailGroup(hc)
	if err != nil {
		return nil, err
	}
	return []health.Group{g}, nil
}
