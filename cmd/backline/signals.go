package main

import (
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// handleHangups reloads the configuration on SIGHUP (`systemctl reload`,
// `kill -HUP`). A reload logs its own result; signals that arrive while
// one runs are merged into one more reload after it, as a reload reads
// the newest file anyway. stop undoes it.
func (d *daemon) handleHangups() (stop func()) {
	hups := make(chan os.Signal, 1)
	signal.Notify(hups, syscall.SIGHUP)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-hups:
				d.logger.Info("SIGHUP received; reloading the configuration")
				d.Reload()
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
