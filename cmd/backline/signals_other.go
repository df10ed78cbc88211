//go:build !unix

package main

import "os"

// reopenSignal is nil where there is no SIGUSR1: the log files are then
// reopened only by a restart.
var reopenSignal os.Signal
