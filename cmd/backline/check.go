package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/lua"
	"github.com/backline/backline/internal/server"
)

// runCheck validates a configuration file: exit 0 with a summary and the
// warnings on stdout, or exit 1 with every error (key path and line) on
// stderr.
func runCheck(args []string, stdout, stderr io.Writer) int {
	fs := newCommandFlags("check", stderr)
	var o checkOptions
	o.register(fs)
	if code, ok := parseCommand(fs, args, stdout); !ok {
		return code
	}
	path := &o.config
	if *path == "" {
		fmt.Fprintln(stderr, "backline check: --config FILE is required")
		return exitUsage
	}
	cfg, err := loadConfigWith(*path, config.LoadOptions{NoSecrets: o.noSecrets}, stderr)
	if err != nil {
		return exitFail
	}
	// Building the targets reads CA files and assembles TLS settings, just
	// as serve will: a file that passes check must start.
	g, err := server.MailGroup(cfg.Auth.Services.BackendHealthChecks)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", *path, err)
		return exitFail
	}
	// The gateway compiles its templates (${env.X}, ${request...}), the
	// oauth2 and beta_token_request blocks included, at start and on reload;
	// compile them here too so check catches what serve would refuse.
	// Building one does no I/O: listeners open in serve, origins are dialed
	// and tokens fetched on the first request, beta_health probes run on
	// the daemon's health engine.
	gw, err := newGateway(cfg, slog.New(slog.DiscardHandler), nil, nil)
	if err != nil {
		printConfigError(*path, err, stderr)
		return exitFail
	}
	endpoints := 0
	var moved []string
	if gw != nil {
		endpoints = len(cfg.Gateway.Endpoints)
		moved = gw.MovedHealthChecks()
		gw.Close()
	}
	fmt.Fprintf(stdout, "configuration OK: %d targets, %d gateway endpoints\n", len(g.Targets), endpoints)
	if t := config.ListenerTLSSummary(cfg.Server.TLS); t != "" {
		fmt.Fprintf(stdout, "server.tls: %s\n", t)
	}
	if t := config.ListenerTLSSummary(cfg.Gateway.TLS); t != "" {
		fmt.Fprintf(stdout, "gateway.tls: %s\n", t)
	}
	for i := range cfg.Auth.Services.BackendHealthChecks.Targets {
		tg := &cfg.Auth.Services.BackendHealthChecks.Targets[i]
		if s := config.ClientCertSummary(tg); s != "" {
			fmt.Fprintf(stdout, "auth.services.backend_health_checks.targets[%d] (%s): %s\n", i, tg.Name, s)
		}
	}
	for _, line := range moved {
		fmt.Fprintln(stdout, line)
	}
	if t := config.LuaDBSummary(cfg.Lua.Config.DB); t != "" {
		fmt.Fprintf(stdout, "lua.config.db: %s\n", t)
	}
	warnings := append(cfg.Warnings(), lua.AbsentModuleWarnings(cfg)...)
	for _, w := range append(warnings, lua.DBWarnings(cfg)...) {
		fmt.Fprintf(stdout, "warning: %s\n", w)
	}
	return exitOK
}

// loadConfig loads path and compiles its Lua scripts; on failure it prints
// every problem on its own line, prefixed with the file name.
func loadConfig(path string, stderr io.Writer) (*config.Config, error) {
	return loadConfigWith(path, config.LoadOptions{}, stderr)
}

func loadConfigWith(path string, o config.LoadOptions, stderr io.Writer) (*config.Config, error) {
	cfg, err := config.LoadWith(path, o)
	if err == nil {
		// Compile the Lua scripts too, so check and serve both refuse a
		// syntax error with its key path before anything starts.
		err = lua.CompileScripts(cfg)
	}
	if err == nil {
		return cfg, nil
	}
	printConfigError(path, err, stderr)
	return nil, err
}

// printConfigError prints every problem of err on its own line.
func printConfigError(path string, err error, stderr io.Writer) {
	var errs config.Errors
	if errors.As(err, &errs) {
		fmt.Fprintf(stderr, "%s: %d error(s):\n", path, len(errs))
		for _, e := range errs {
			fmt.Fprintf(stderr, "  %s\n", e.Error())
		}
	} else {
		fmt.Fprintf(stderr, "%s: %v\n", path, err)
	}
}

// parseFlags parses args; ok is false when the caller should exit with code
// (0 for -h, 2 for a bad flag or a stray argument).
func parseFlags(fs *flag.FlagSet, args []string) (code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, false
		}
		return exitUsage, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "backline %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return exitUsage, false
	}
	return 0, true
}
