package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/gcfloor"
	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/procfloor"
	"github.com/backline/backline/internal/server"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newCommandFlags("serve", stderr)
	var o serveOptions
	o.register(fs)
	if code, ok := parseCommand(fs, args, stdout); !ok {
		return code
	}
	path := &o.config
	if *path == "" {
		fmt.Fprintln(stderr, "backline serve: --config FILE is required")
		return exitUsage
	}
	cfg, err := loadConfig(*path, stderr)
	if err != nil {
		return exitFail
	}
	logs, err := openServeLogs(cfg, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "backline serve:", err)
		return exitFail
	}
	defer logs.Close()
	logger, level, err := newLoggerVar(logs.daemon, cfg.Server.LogLevel, cfg.Server.LogFormat)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	defer routeStdLog(logger)()
	var access *slog.Logger
	if logs.access != nil {
		// Validated with the daemon's logger above: no error here.
		access, _ = newLoggerAt(logs.access, level, cfg.Server.LogFormat)
	}
	if before, after := procfloor.Apply(); after != before {
		logger.Info("scheduler: GOMAXPROCS raised for a single CPU (see internal/procfloor; set GOMAXPROCS to choose)",
			"from", before, "to", after)
	}
	if os.Getenv("GOGC") == "" {
		// See internal/gcfloor: a proxy keeps little alive, and GOGC=100
		// would collect dozens of times a second under load.
		tuner := gcfloor.Start(gcfloor.DefaultFloor)
		defer tuner.Stop()
	}
	if err := runDaemonWith(ctx, daemonOptions{cfg: cfg, path: *path, logger: logger, level: level,
		accessLogger: access, logs: logs.outs}); err != nil {
		logger.Error("backline stopped with an error", "error", err)
		return exitFail
	}
	return exitOK
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
