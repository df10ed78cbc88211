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
	return onSignal(syscall.SIGHUP, func() {
		d.logger.Info("SIGHUP received; reloading the configuration")
		d.Reload()
	})
}

// handleReopens reopens the log files on SIGUSR1 (logrotate's postrotate
// `kill -USR1`, as nginx and Dovecot do), apart from SIGHUP: a reopen does
// not wait behind a slow reload. Without log files (stderr) it only logs
// that. stop undoes it.
func (d *daemon) handleReopens() (stop func()) {
	if reopenSignal == nil {
		return func() {} // no SIGUSR1 on this system
	}
	return onSignal(reopenSignal, func() {
		d.logger.Info("SIGUSR1 received; reopening the log files", "files", len(d.opts.logs))
		reopenLogs(d.logger, d.opts.logs)
	})
}

// onSignal runs fn on its own goroutine for each sig; signals that arrive
// while fn runs are merged into one more run after it (a buffer of one).
// stop ends it and waits for a running fn.
func onSignal(sig os.Signal, fn func()) (stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, sig)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-ch:
				fn()
			case <-done:
				return
			}
		}
	})
	return func() {
		signal.Stop(ch)
		close(done)
		wg.Wait()
	}
}

// ignoreDaemonSignals keeps SIGHUP and SIGUSR1, whose default is to end
// the process, from killing it before their handlers are in place.
func ignoreDaemonSignals() {
	signal.Ignore(syscall.SIGHUP)
	if reopenSignal != nil {
		signal.Ignore(reopenSignal)
	}
}

// daemonCommand tells the subcommands that run until stopped.
func daemonCommand(args []string) bool {
	return len(args) > 0 && (args[0] == "serve" || args[0] == "demo")
}
