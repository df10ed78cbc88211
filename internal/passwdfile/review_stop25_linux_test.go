//go:build linux

package passwdfile

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
)

// A symbolic link to a FIFO is refused like the FIFO, without waiting for
// a writer.
func TestLoadRefusesSymlinkToFIFO(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	link := filepath.Join(dir, "users")
	if err := os.Symlink(fifo, link); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(link); err == nil || err.Error() != "passwd-file "+link+": not a regular file" {
		t.Errorf("a link to a FIFO: %v", err)
	}
}

// The file can be replaced between Load's stat and its open (an operator's
// `mv`, a config-management tool swapping a link): a FIFO swapped in then
// must still be refused, not waited on, or check, start or a reload hangs
// until someone writes to it. The test swaps a link between a regular file
// and a FIFO while another thread loads it, and looks (in /proc) whether
// that thread ever sleeps in the kernel waiting for the FIFO's writer; it
// wakes such a sleeper itself, so a failure never hangs the test.
func TestLoadNeverWaitsOnFIFOSwappedInAfterStat(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "regular")
	if err := os.WriteFile(regular, []byte("alice:{PLAIN}"+secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	path := filepath.Join(dir, "users")
	point := func(to string) {
		tmp := path + ".new"
		if err := os.Symlink(to, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	point(regular)

	var stop atomic.Bool
	tid := make(chan int)
	done := make(chan struct{})
	go func() {
		defer close(done)
		// One thread: the one /proc is asked about.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		tid <- syscall.Gettid()
		for !stop.Load() {
			_, _ = Load(path)
		}
	}()
	wchan := "/proc/self/task/" + strconv.Itoa(<-tid) + "/wchan"
	waitsOnFIFO := func() bool {
		b, err := os.ReadFile(wchan)
		return err == nil && strings.Contains(string(b), "wait_for_partner")
	}
	if _, err := os.ReadFile(wchan); err != nil {
		stop.Store(true)
		<-done
		t.Skipf("no %s: %v", wchan, err)
	}
	waited := false
	for i := 0; i < 2000 && !waited; i++ {
		point(fifo)
		point(regular)
		waited = i%8 == 0 && waitsOnFIFO()
	}
	stop.Store(true)
	// Wake a loader waiting for a writer: open the write end (it succeeds
	// only while a reader is there) and close it.
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true
		default:
			if waitsOnFIFO() {
				waited = true
				if fd, err := syscall.Open(fifo, syscall.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
					syscall.Close(fd)
				}
			}
			runtime.Gosched()
		}
	}
	if waited {
		t.Errorf("Load opened a FIFO swapped in after its stat and waited for a writer")
	}
}
