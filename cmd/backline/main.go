// Command backline health-checks mail and HTTP backends and serves their
// state. Each subcommand lives in its own file.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// Exit codes shared by every subcommand.
const (
	exitOK    = 0
	exitFail  = 1 // invalid configuration, unhealthy backend, runtime error
	exitUsage = 2 // bad command line
)

// run is main without the process: tests call it in-process. SIGINT and
// SIGTERM cancel the context the subcommands run with; serve and demo log
// and ignore SIGHUP.
func run(args []string, stdout, stderr io.Writer) int {
	if daemonCommand(args) {
		// Until the daemon reloads on SIGHUP (see handleHangups) and
		// reopens its logs on SIGUSR1, one sent while the configuration
		// loads must not kill the process.
		ignoreDaemonSignals()
		// The daemon logs a line per request: gather them (logwriter.go).
		lw := newLogWriter(stderr)
		defer lw.Close()
		stderr = lw
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return dispatch(ctx, args, stdout, stderr)
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText())
		return exitUsage
	}
	rest := args[1:]
	if oneOffCommand(args[0]) {
		defer routeStdLog(cliLogger(stderr))()
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, rest, stdout, stderr)
	case "check":
		return runCheck(rest, stdout, stderr)
	case "probe":
		return runProbe(ctx, rest, stdout, stderr)
	case "lua":
		if len(rest) > 0 && rest[0] == "test" {
			return runLuaTest(rest[1:], stdout, stderr)
		}
		fmt.Fprintln(stderr, `Usage: backline lua test --script FILE [flags]`)
		return exitUsage
	case "migrate":
		return runMigrate(rest, os.Stdin, stdout, stderr)
	case "demo":
		return runDemo(ctx, rest, stdout, stderr)
	case "ctl":
		return runCtl(ctx, rest, stdout, stderr)
	case "completion":
		return runCompletion(rest, stdout, stderr)
	case "version", "--version", "-version":
		if wantsHelp(rest) {
			fmt.Fprint(stdout, "Usage: backline version\n\nPrints the version, commit and Go version.\n")
			return exitOK
		}
		return runVersion(stdout)
	case "help", "-h", "-help", "--help":
		if len(rest) > 0 {
			return dispatch(ctx, append(rest, "--help"), stdout, stderr)
		}
		fmt.Fprint(stdout, usageText())
		return exitOK
	case "man":
		// Undocumented: scripts/package builds the man page from this.
		return runMan(rest, stdout, stderr)
	default:
		fmt.Fprintf(stderr, "backline: unknown command %q\n\n%s", args[0], usageText())
		return exitUsage
	}
}
