package safefile

import (
	"io/fs"
	"os"
)

// Open opens a file named in configuration for reading, judging its kind
// with accept twice: on the path before the open (opening a device can have
// effects of its own, and a socket cannot be opened) and on the opened file
// (a FIFO renamed in after the stat is opened without waiting, then
// refused). An error from accept is returned as it is; any other error is
// the *fs.PathError of the stat or open, so a caller words the two apart.
// The FileInfo is the opened file's.
func Open(path string, accept func(fs.FileInfo) error) (*os.File, fs.FileInfo, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, nil, err
	}
	if err := accept(st); err != nil {
		return nil, nil, err
	}
	f, err := OpenNoWait(path)
	if err != nil {
		return nil, nil, err
	}
	if st, err = f.Stat(); err == nil {
		err = accept(st)
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, st, nil
}
