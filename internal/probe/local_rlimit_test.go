//go:build linux

package probe

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSocketExhaustionIsLocal runs a real probe out of file descriptors:
// a child process lowers RLIMIT_NOFILE, fills its table and probes a
// listening backend. The probe must blame this host, not the backend.
// (A child, because the limit is process-wide.)
func TestSocketExhaustionIsLocal(t *testing.T) {
	if os.Getenv("BACKLINE_PROBE_RLIMIT_CHILD") == "1" {
		socketExhaustionChild(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestSocketExhaustionIsLocal$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "BACKLINE_PROBE_RLIMIT_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestSocketExhaustionIsLocal") {
		t.Fatalf("child failed: %v\n%s", err, out)
	}
}

func socketExhaustionChild(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	tg := &Target{Name: "t", Protocol: "imap", Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port,
		ConnectTimeout: 2 * time.Second}

	open, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count open files: %v", err)
	}
	limit := uint64(len(open) + 16)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: limit, Max: limit}); err != nil {
		t.Skipf("cannot lower RLIMIT_NOFILE: %v", err)
	}
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	for range 1000 {
		f, err := os.Open(os.DevNull)
		if err != nil {
			break
		}
		files = append(files, f)
	}
	res := (&Prober{}).Check(context.Background(), tg, PhaseConnect, Options{})
	if res.OK || res.Reason != Reason("local_resource") {
		t.Fatalf("out of descriptors: ok=%v reason=%q err=%v, want reason local_resource", res.OK, res.Reason, res.Err)
	}
}
