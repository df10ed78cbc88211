package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// sample is one look at the daemon during the load.
type sample struct {
	at         time.Duration // since the load started
	rss        int64
	fds        int
	goroutines float64
	cpu        time.Duration
	runqWait   time.Duration // the daemon's threads waiting for a CPU
	requests   float64       // backline_auth_requests_total, all series
	healthy    float64       // backend_servers_status{server_status="alive"}
	idleOpen   int64         // idle connections this side holds
	healthz    int           // status of a fresh /healthz, 0 on error
	healthzLat time.Duration
}

// loadgen is the load generator process.
type loadgen struct {
	cmd    *exec.Cmd
	stdout bytes.Buffer
	stderr bytes.Buffer
	done   chan struct{}
	start  time.Time
}

func startLoadgen(o options, url string, cpu int) (*loadgen, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	args := []string{self, "-loadgen", url, "-workers", strconv.Itoa(o.workers),
		"-users", strconv.Itoa(o.users), "-duration", o.duration.String(),
		"-script-timeout", o.scriptTimeout.String(), "-bad-every", strconv.Itoa(badEvery)}
	if cpu >= 0 {
		args = append([]string{"taskset", "-c", strconv.Itoa(cpu)}, args...)
	}
	lg := &loadgen{cmd: child(args), done: make(chan struct{})}
	lg.cmd.Stdout, lg.cmd.Stderr = &lg.stdout, &lg.stderr
	if err := lg.cmd.Start(); err != nil {
		return nil, err
	}
	lg.start = time.Now()
	go func() { _ = lg.cmd.Wait(); close(lg.done) }()
	return lg, nil
}

// result waits at most limit for the load generator and decodes its report.
func (lg *loadgen) result(limit time.Duration) (loadResult, error) {
	select {
	case <-lg.done:
	case <-time.After(limit):
		_ = lg.cmd.Process.Kill()
		<-lg.done
		return loadResult{}, fmt.Errorf("load generator did not finish within %s; killed", limit)
	}
	var r loadResult
	if err := json.Unmarshal(lg.stdout.Bytes(), &r); err != nil {
		return r, fmt.Errorf("load generator (%v) output %q: %w; stderr: %s", lg.cmd.ProcessState,
			strings.TrimSpace(lg.stdout.String()), err, strings.TrimSpace(lg.stderr.String()))
	}
	return r, nil
}

// sampleUntil takes a sample after the warm-up and then every
// o.sampleEvery, the last one shortly before the load ends. If the daemon
// dies, the load generator is told to stop and sampling ends.
func sampleUntil(o options, d *daemon, apiAddr string, idle *idleHolder, lg *loadgen) []sample {
	var at []time.Duration
	last := o.duration - time.Second
	for t := o.warmup; t < last; t += o.sampleEvery {
		at = append(at, t)
	}
	at = append(at, last)
	var out []sample
	fmt.Printf("\n%7s %9s %6s %10s %6s %9s %8s %8s %9s %10s\n",
		"t", "RSS MiB", "fds", "goroutines", "idle", "healthy", "req/s", "CPU", "CPU wait", "/healthz")
	var prev *sample
	for _, t := range at {
		select {
		case <-d.exited:
			fmt.Printf("daemon exited after %s: %v\n", time.Since(lg.start).Round(time.Second), d.state)
			_ = lg.cmd.Process.Signal(syscall.SIGINT)
			return out
		case <-lg.done:
			return out
		case <-time.After(time.Until(lg.start.Add(t))):
		}
		// Never wait for reopened idle connections past the end of the load.
		settle := min(settleLimit, time.Until(lg.start.Add(o.duration-500*time.Millisecond)))
		s := takeSample(d, apiAddr, idle, settle)
		s.at = time.Since(lg.start)
		printSample(s, prev)
		out = append(out, s)
		prev = &out[len(out)-1]
	}
	return out
}

// settleLimit bounds the wait for reopened idle connections before a
// sample: on the busy development VM, 5,000 take up to about 10 s.
const settleLimit = 20 * time.Second

func takeSample(d *daemon, apiAddr string, idle *idleHolder, settle time.Duration) sample {
	// When the daemon's idle timeout has just closed the idle connections,
	// wait until they are open again: a sample in that gap would show
	// fewer descriptors and goroutines that no leak explains.
	for deadline := time.Now().Add(settle); idle.open.Load() < int64(idle.want) && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	s := sample{rss: procRSS(d.pid), fds: procFDs(d.pid), cpu: procCPU(d.pid), runqWait: procRunQueueWait(d.pid), idleOpen: idle.open.Load()}
	m, err := scrapeMetrics(apiAddr, map[string]string{
		"go_goroutines":                "",
		"backline_auth_requests_total": "",
		"backend_servers_status":       `server_status="alive"`,
	})
	if err == nil {
		s.goroutines, s.requests, s.healthy = m["go_goroutines"], m["backline_auth_requests_total"], m["backend_servers_status"]
	}
	s.healthz, s.healthzLat, _ = getHealthz(apiAddr)
	return s
}

func printSample(s sample, prev *sample) {
	rate, cpu, wait := "-", "-", "-"
	if prev != nil {
		dt := (s.at - prev.at).Seconds()
		rate = fmt.Sprintf("%.0f", (s.requests-prev.requests)/dt)
		cpu = fmt.Sprintf("%.0f%%", 100*(s.cpu-prev.cpu).Seconds()/dt)
		wait = fmt.Sprintf("%.0f%%", 100*(s.runqWait-prev.runqWait).Seconds()/dt)
	}
	hz := "error"
	if s.healthz != 0 {
		hz = fmt.Sprintf("%d %s", s.healthz, s.healthzLat.Round(time.Millisecond))
	}
	fmt.Printf("%7s %9.1f %6d %10.0f %6d %9.0f %8s %8s %9s %10s\n",
		s.at.Round(time.Second), float64(s.rss)/(1<<20), s.fds, s.goroutines, s.idleOpen, s.healthy, rate, cpu, wait, hz)
}
