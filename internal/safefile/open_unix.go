//go:build unix

// Package safefile opens files named in configuration without waiting on
// them: a path that is (or becomes, between a stat and the open) a FIFO
// would block an open for reading until some process writes to it, and
// with it `backline check`, start and every reload.
package safefile

import (
	"os"
	"syscall"
)

// OpenNoWait opens path for reading without waiting for a FIFO's writer
// (regular files ignore O_NONBLOCK). Callers look at the opened file
// (f.Stat) to refuse what is not a regular file: a stat of the path before
// the open can be outrun by a rename.
func OpenNoWait(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}
