//go:build unix

package safefile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

var errNotRegular = errors.New("not regular")

func regularOnly(st fs.FileInfo) error {
	if !st.Mode().IsRegular() {
		return errNotRegular
	}
	return nil
}

// A FIFO is refused by the accept's own error, at once; a missing path is
// the stat's *fs.PathError; a regular file opens and its FileInfo is given.
func TestOpenJudgesKindAndKeepsOSErrorsApart(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	if f, _, err := Open(fifo, regularOnly); err != errNotRegular {
		if f != nil {
			f.Close()
		}
		t.Errorf("FIFO: err %v, want the accept's error", err)
	}
	var pe *fs.PathError
	if _, _, err := Open(filepath.Join(dir, "missing"), regularOnly); !errors.As(err, &pe) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing: err %v, want an *fs.PathError for ErrNotExist", err)
	}
	path := filepath.Join(dir, "f")
	if err := os.WriteFile(path, []byte("data"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, st, err := Open(path, regularOnly)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if st.Size() != 4 {
		t.Errorf("size %d, want 4", st.Size())
	}
}

// The opened file is judged too: an accept that refuses the second look
// (standing in for a FIFO renamed in after the stat) leaves no file open.
func TestOpenJudgesTheOpenedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	calls := 0
	f, _, err := Open(path, func(fs.FileInfo) error {
		calls++
		if calls == 2 {
			return errNotRegular
		}
		return nil
	})
	if err != errNotRegular || f != nil || calls != 2 {
		t.Errorf("err %v, file %v, %d looks; want the second look's error, no file, 2 looks", err, f, calls)
	}
}
