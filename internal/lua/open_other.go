//go:build !unix

package lua

import "os"

func openNonBlocking(path string) (*os.File, error) { return os.Open(path) }
