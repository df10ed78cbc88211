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

const usage = `usage: backline <command> [flags]

commands:
  serve   --config FILE     run the daemon
  check   --config FILE     validate a configuration file
  probe   --protocol P --host H --port N [flags]
                            check one backend once, with the daemon's code
  lua test [flags]          run a filter script offline
  demo    [--address A]     run on an embedded default with fake backends
  ctl     <command> [flags] control a running daemon: list, drain, ready, explain, reload...
  version                   print the version

Run "backline <command> -h" for the flags of a command.
`

// run is main without the process: tests call it in-process. SIGINT and
// SIGTERM cancel the context the subcommands run with; serve and demo log
// and ignore SIGHUP.
func run(args []string, stdout, stderr io.Writer) int {
	if daemonCommand(args) {
		// Until the daemon reloads on SIGHUP (see handleHangups), one sent
		// while the configuration loads must not kill the process.
		signal.Ignore(syscall.SIGHUP)
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
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	rest := args[1:]
	switch args[0] {
	case "serve":
		return runServe(ctx, rest, stdout, stderr)
	case "check":
		return runCheck(rest, stdout, stderr)
	case "probe":
		return runProbe(ctx, rest, stdout, stderr)
	case "lua":
		if len(rest) > 0 && rest[0] == "test" {
			return runLuaTest(rest[1:])
		}
		fmt.Fprintln(stderr, `usage: backline lua test [flags]`)
		return exitUsage
	case "demo":
		return runDemo(ctx, rest, stdout, stderr)
	case "ctl":
		return runCtl(ctx, rest, stdout, stderr)
	case "version", "--version", "-version":
		return runVersion(stdout)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "backline: unknown command %q\n\n%s", args[0], usage)
		return exitUsage
	}
}
