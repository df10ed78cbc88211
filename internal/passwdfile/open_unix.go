//go:build unix

package passwdfile

import (
	"os"
	"syscall"
)

// openNonBlocking opens path for reading without waiting for a FIFO's
// writer (regular files ignore O_NONBLOCK): the file can become a FIFO
// between Load's stat and its open, and the open file is looked at again.
func openNonBlocking(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}
