//go:build !unix

package passwdfile

import "os"

func openNonBlocking(path string) (*os.File, error) { return os.Open(path) }
