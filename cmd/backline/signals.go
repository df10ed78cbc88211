package main

import (
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// hangupMessage is logged for each SIGHUP while reload does not exist.
const hangupMessage = "SIGHUP received; reload is not implemented yet, ignoring"

// ignoreHangups keeps SIGHUP from killing the daemon: logrotate's postrotate
// and `systemctl reload` habits send it, and the default action (exit 129,
// without a log line) takes the service down. Until reload exists each one
// is logged at WARN, so an operator who expected a reload sees it did not
// happen. stop undoes it.
func ignoreHangups(logger *slog.Logger) (stop func()) {
	hups := make(chan os.Signal, 1)
	signal.Notify(hups, syscall.SIGHUP)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-hups:
				logger.Warn(hangupMessage)
			case <-done:
				return
			}
		}
	})
	return func() {
		signal.Stop(hups)
		close(done)
		wg.Wait()
	}
}

// daemonCommand tells the subcommands that run until stopped.
func daemonCommand(args []string) bool {
	return len(args) > 0 && (args[0] == "serve" || args[0] == "demo")
}
