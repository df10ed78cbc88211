//go:build unix

package main

import (
	"os"
	"syscall"
)

// reopenSignal reopens the log files (handleReopens).
var reopenSignal os.Signal = syscall.SIGUSR1
