package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// buildBackline compiles ./cmd/backline of the module this program belongs
// to into dir.
func buildBackline(dir string) (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	gomod := strings.TrimSpace(string(out))
	if err != nil || gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("run this from the backline module (go env GOMOD: %q, %v)", gomod, err)
	}
	bin := filepath.Join(dir, "backline")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/backline")
	cmd.Dir = filepath.Dir(gomod)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build ./cmd/backline: %w", err)
	}
	return bin, nil
}

// child is a process of this run. It gets SIGTERM when the soak dies
// (killed, or SIGPIPE on a closed output), so no daemon outlives its run.
func child(args []string) *exec.Cmd {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	return cmd
}

// freePort asks the kernel for a free loopback port. Another process may
// take it before the daemon listens; the daemon then fails to start and
// the run says so.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// daemon is the running `backline serve`.
type daemon struct {
	cmd     *exec.Cmd
	pid     int
	logPath string
	exited  chan struct{} // closed when the process ended
	state   *os.ProcessState
}

// startDaemon runs bin serve, pinned to cpu when cpu >= 0, with stderr
// (the log) in logPath. It returns once /healthz answers.
func startDaemon(bin, configPath, logPath, apiAddr string, cpu int) (*daemon, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	args := []string{bin, "serve", "--config", configPath}
	if cpu >= 0 {
		args = append([]string{"taskset", "-c", strconv.Itoa(cpu)}, args...)
	}
	cmd := child(args)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	// taskset execs the daemon, so the PID stays the daemon's.
	d := &daemon{cmd: cmd, pid: cmd.Process.Pid, logPath: logPath, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		d.state = cmd.ProcessState
		logf.Close()
		close(d.exited)
	}()
	for range 100 {
		select {
		case <-d.exited:
			return nil, fmt.Errorf("daemon exited at start (%v); log: %s", d.state, tail(logPath, 5))
		default:
		}
		if status, _, err := getHealthz(apiAddr); err == nil && status == http.StatusOK {
			return d, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	d.stop(time.Second)
	return nil, fmt.Errorf("daemon did not answer /healthz on %s within 10s", apiAddr)
}

func (d *daemon) alive() bool {
	select {
	case <-d.exited:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM and waits up to grace, then kills. It reports the
// exit status of the graceful stop.
func (d *daemon) stop(grace time.Duration) string {
	if !d.alive() {
		return d.state.String()
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
		return d.state.String()
	case <-time.After(grace):
		_ = d.cmd.Process.Kill()
		<-d.exited
		return fmt.Sprintf("did not stop within %s after SIGTERM; killed", grace)
	}
}

var healthzClient = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// getHealthz answers /healthz's status and latency on a new connection, the
// way a monitoring check would.
func getHealthz(addr string) (int, time.Duration, error) {
	t0 := time.Now()
	resp, err := healthzClient.Get("http://" + addr + "/healthz")
	if err != nil {
		return 0, time.Since(t0), err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	return resp.StatusCode, time.Since(t0), nil
}

// scrapeMetrics reads /metrics and sums every series of each metric name
// selected by want (name -> label filter, "" for all series).
func scrapeMetrics(addr string, want map[string]string) (map[string]float64, error) {
	resp, err := healthzClient.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/metrics: HTTP %s", resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 16<<20))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		series, value, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		name, labels, _ := strings.Cut(series, "{")
		filter, wanted := want[name]
		if !wanted || (filter != "" && !strings.Contains(labels, filter)) {
			continue
		}
		v, err := strconv.ParseFloat(strings.Fields(value)[0], 64)
		if err == nil {
			out[name] += v
		}
	}
	return out, sc.Err()
}

// procStatus reads VmRSS (bytes) of pid.
func procRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

func procFDs(pid int) int {
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0
	}
	return len(entries)
}

// procCPU is utime+stime of pid, from /proc/PID/stat in clock ticks of
// 10 ms (USER_HZ is 100 on Linux).
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// procRunQueueWait sums how long pid's threads waited for a CPU while
// runnable (the second field of /proc/PID/task/TID/schedstat). It tells a
// daemon that was slow from one that was not scheduled: the development VM
// runs other work on the same two cores.
func procRunQueueWait(pid int) time.Duration {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return 0
	}
	var total time.Duration
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/schedstat", pid, t.Name()))
		if err != nil {
			continue
		}
		if f := strings.Fields(string(b)); len(f) >= 2 {
			ns, _ := strconv.ParseInt(f[1], 10, 64)
			total += time.Duration(ns)
		}
	}
	return total
}

// tail returns the last n lines of a file, for error messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// runCheck runs `backline check` on a configuration; the error carries
// check's stderr.
func runCheck(ctx context.Context, bin, configPath string) error {
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "check", "--config", configPath)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return errors.New(strings.TrimSpace(err.Error() + ": " + stderr.String()))
	}
	return nil
}
