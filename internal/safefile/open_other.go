//go:build !unix

package safefile

import "os"

// OpenNoWait is os.Open where there are no FIFOs to wait on.
func OpenNoWait(path string) (*os.File, error) { return os.Open(path) }
