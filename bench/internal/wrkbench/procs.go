package wrkbench

import (
	"io"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// started are the child processes, killed by Fatalf so that a failed run
// leaves no server behind.
var (
	startedMu sync.Mutex
	started   []*exec.Cmd
)

// Fatalf kills every child started through Start, then logs and exits.
func Fatalf(format string, args ...any) {
	startedMu.Lock()
	for _, c := range started {
		_ = c.Process.Kill()
	}
	startedMu.Unlock()
	log.Fatalf(format, args...)
}

// Pinned is the command that runs bin with args on CPU cpu (taskset execs
// bin, so the child's pid is bin's own).
func Pinned(cpu int, bin string, args ...string) *exec.Cmd {
	return exec.Command("taskset", append([]string{"-c", strconv.Itoa(cpu), bin}, args...)...)
}

// Start starts cmd and puts it on the list Fatalf kills.
func Start(cmd *exec.Cmd) error {
	if err := cmd.Start(); err != nil {
		return err
	}
	startedMu.Lock()
	started = append(started, cmd)
	startedMu.Unlock()
	return nil
}

// Build compiles the package pkg (a path from the module root, such as
// "./cmd/backline") into dir and returns the binary's path.
func Build(dir, pkg string) string {
	out := filepath.Join(dir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		Fatalf("building %s (run from the module root): %v", pkg, err)
	}
	return out
}

// FreeLoopbackPort picks a port for a child that cannot take port 0.
func FreeLoopbackPort() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		Fatalf("%v", err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// StartFakeIMAP opens n loopback listeners that greet and close, so the
// connect probes pass.
func StartFakeIMAP(n int) ([]string, func()) {
	var addrs []string
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			Fatalf("%v", err)
		}
		lns = append(lns, ln)
		addrs = append(addrs, ln.Addr().String())
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				_, _ = io.WriteString(c, "* OK ready\r\n")
				c.Close()
			}
		}()
	}
	return addrs, func() {
		for _, ln := range lns {
			ln.Close()
		}
	}
}

// NeedTools stops the bench with the install command when a tool it runs
// is missing (scripts/install-deps.sh installs nginx, HAProxy and
// redis-server for the tests, not wrk), instead of a taskset error in the
// middle of the first round.
func NeedTools(paths ...string) {
	var missing []string
	for _, p := range paths {
		if p == "" {
			continue
		}
		if _, err := exec.LookPath(p); err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		Fatalf("missing %s: install with `apt-get install wrk nginx haproxy redis-server`, or point the flags elsewhere", strings.Join(missing, ", "))
	}
}
