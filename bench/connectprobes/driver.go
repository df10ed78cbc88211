package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// drive runs, for each size, a listener child and then the engine and the
// baseline children against it, and prints one table row per size.
func drive(sizes string, s settings) error {
	ns, err := parseSizes(sizes)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "connectprobes")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	fmt.Printf("interval %s, jitter %s, rounds %d, in flight <= %d, GOMAXPROCS default\n\n", s.interval, s.jitter, s.rounds, s.inFlight)
	fmt.Println("| N | probes | CPU/probe engine | CPU/dial baseline | ratio | peak RSS engine | peak RSS baseline | failures engine/baseline |")
	fmt.Println("|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, n := range ns {
		row, err := measureSize(self, dir, n, s)
		if err != nil {
			return fmt.Errorf("n=%d: %w", n, err)
		}
		fmt.Println(row)
	}
	return nil
}

func measureSize(self, dir string, n int, s settings) (string, error) {
	server := exec.Command(self, "-mode", "serve", "-n", strconv.Itoa(n))
	server.Stderr = os.Stderr
	stdin, err := server.StdinPipe()
	if err != nil {
		return "", err
	}
	stdout, err := server.StdoutPipe()
	if err != nil {
		return "", err
	}
	if err := server.Start(); err != nil {
		return "", err
	}
	defer func() {
		stdin.Close()
		_ = server.Wait()
	}()
	portFile := filepath.Join(dir, fmt.Sprintf("ports-%d", n))
	if err := copyPorts(stdout, portFile); err != nil {
		return "", err
	}

	child := func(mode string) (measurement, error) {
		cmd := exec.Command(self, "-mode", mode, "-ports", portFile,
			"-interval", s.interval.String(), "-jitter", s.jitter.String(),
			"-rounds", strconv.Itoa(s.rounds), "-inflight", strconv.Itoa(s.inFlight))
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			return measurement{}, fmt.Errorf("%s child: %w", mode, err)
		}
		var m measurement
		if err := json.Unmarshal(out, &m); err != nil {
			return m, fmt.Errorf("%s child output %q: %w", mode, out, err)
		}
		if m.Err != "" {
			return m, fmt.Errorf("%s child: %s", mode, m.Err)
		}
		return m, nil
	}
	eng, err := child("engine")
	if err != nil {
		return "", err
	}
	base, err := child("dial")
	if err != nil {
		return "", err
	}
	perProbe := eng.CPU / time.Duration(max(eng.Probes, 1))
	perDial := base.CPU / time.Duration(max(base.Probes, 1))
	return fmt.Sprintf("| %d | %d | %s | %s | %.2fx | %.1f MB | %.1f MB | %d/%d |",
		n, eng.Probes, perProbe, perDial, float64(perProbe)/float64(max(perDial, 1)),
		float64(eng.MaxRSSKB)/1024, float64(base.MaxRSSKB)/1024, eng.Failures, base.Failures), nil
}

// copyPorts reads the server child's ports until "ready" into path.
func copyPorts(r interface{ Read([]byte) (int, error) }, path string) error {
	sc := bufio.NewScanner(r)
	var b strings.Builder
	for sc.Scan() {
		if sc.Text() == "ready" {
			return os.WriteFile(path, []byte(b.String()), 0o600)
		}
		b.WriteString(sc.Text())
		b.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return errors.New("listener child exited before it was ready")
}
