// Command soak runs `backline serve` as a separate process for minutes under
// nginx auth_http load, with half of its 20 mail backends flapping, 5,000
// idle keep-alive connections on its API listener and a Lua filter that
// loops, allocates or raises an error for 1 % of the users. It then checks
// that the daemon is still the same process, that no OK went out without a
// server, that exactly the misbehaving users got tempfails, and that RSS,
// open file descriptors and goroutines stayed flat. Exit status 1 when a
// criterion fails.
//
//	go run ./bench/soak [-duration 3m] [-alloc-bytes 1e9] [-idle 5000] [-workers 16]
//
// Everything listens on and connects to 127.0.0.1. The load generator is
// this binary re-executed with -loadgen; with taskset available it runs on
// CPU 0 and the daemon on CPU 1. It is a bench, not a test: nothing under
// bench/ has _test files, so `go test ./...` never starts it.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

// options are the command-line flags.
type options struct {
	duration      time.Duration
	warmup        time.Duration
	sampleEvery   time.Duration
	workers       int
	users         int
	idle          int
	backends      int
	flapPeriod    time.Duration
	allocBytes    float64
	scriptTimeout time.Duration
	maxConns      int
	pin           bool
	backline      string
	keep          bool
}

func main() {
	var o options
	flag.DurationVar(&o.duration, "duration", 3*time.Minute, "length of the load phase (10s..1h)")
	flag.DurationVar(&o.warmup, "warmup", 20*time.Second, "load before the first sample (at most a quarter of -duration)")
	flag.DurationVar(&o.sampleEvery, "sample-every", 5*time.Second, "time between samples of RSS, fds and goroutines")
	flag.IntVar(&o.workers, "workers", 16, "concurrent keep-alive auth clients (1..256)")
	flag.IntVar(&o.users, "users", 1000, "distinct users (100..1000000)")
	flag.IntVar(&badEvery, "bad-every", 100, "every Nth user misbehaves in the filter (0: nobody, for a baseline)")
	flag.IntVar(&o.idle, "idle", 5000, "idle keep-alive connections held on the API listener (0..15000)")
	flag.IntVar(&o.backends, "backends", 20, "fake IMAP backends, half of them flapping (2..200)")
	flag.DurationVar(&o.flapPeriod, "flap-period", 8*time.Second, "one up plus one down phase of a flapping backend")
	flag.Float64Var(&o.allocBytes, "alloc-bytes", 1e9, "bytes the allocating filter asks string.rep for")
	flag.DurationVar(&o.scriptTimeout, "script-timeout", time.Second, "lua.config.script_timeout")
	flag.IntVar(&o.maxConns, "max-connections", 0, "server.max_connections when the daemon knows the key; 0: idle+workers+256, -1: never write it")
	flag.BoolVar(&o.pin, "pin", true, "pin the load generator to CPU 0 and the daemon to CPU 1 with taskset")
	flag.StringVar(&o.backline, "backline", "", "a built backline binary (default: go build ./cmd/backline)")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory (configuration, daemon log)")
	loadgenURL := flag.String("loadgen", "", "internal: run the load generator against this URL")
	backendsHelper := flag.Bool("backends-helper", false, "internal: run the backends")
	flag.Parse()

	if *backendsHelper {
		runBackendHelper(o.backends, o.flapPeriod, o.duration)
		return
	}
	if *loadgenURL != "" {
		runLoadgen(*loadgenURL, o.workers, o.users, o.duration, clientTimeout(o))
		return
	}
	if err := o.validate(); err != nil {
		log.Fatalf("soak: %v", err)
	}
	// Output piped into head or a closed terminal must not kill the run
	// before it stops the daemon: writes then fail with EPIPE instead.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	ok, err := run(o)
	if err != nil {
		log.Fatalf("soak: %v", err)
	}
	if !ok {
		os.Exit(1)
	}
}

func (o *options) validate() error {
	switch {
	case o.duration < 10*time.Second || o.duration > time.Hour:
		return fmt.Errorf("-duration must be in [10s, 1h]")
	case o.workers < 1 || o.workers > 256:
		return fmt.Errorf("-workers must be in [1, 256]")
	case o.users < 100 || o.users > 1000000:
		return fmt.Errorf("-users must be in [100, 1000000]")
	case badEvery < 0 || badEvery > o.users/3:
		return fmt.Errorf("-bad-every must be in [0, users/3] so every kind of misbehaving user occurs")
	case o.idle < 0 || o.idle > 15000:
		return fmt.Errorf("-idle must be in [0, 15000]")
	case o.backends < 2 || o.backends > 200:
		return fmt.Errorf("-backends must be in [2, 200]")
	case o.flapPeriod < 2*time.Second || o.flapPeriod > 10*time.Minute:
		return fmt.Errorf("-flap-period must be in [2s, 10m]")
	case o.allocBytes < 1 || o.allocBytes > 1e12:
		return fmt.Errorf("-alloc-bytes must be in [1, 1e12]")
	case o.scriptTimeout < 10*time.Millisecond || o.scriptTimeout > time.Minute:
		return fmt.Errorf("-script-timeout must be in [10ms, 1m]")
	case o.sampleEvery < time.Second || o.sampleEvery > time.Minute:
		return fmt.Errorf("-sample-every must be in [1s, 1m]")
	}
	o.warmup = min(max(o.warmup, 0), o.duration/4)
	if o.maxConns == 0 {
		o.maxConns = o.idle + o.workers + 256
	}
	return nil
}

// clientTimeout bounds one auth request: the longest script run plus slack
// for a busy machine.
func clientTimeout(o options) time.Duration { return o.scriptTimeout + 10*time.Second }

func run(o options) (bool, error) {
	if err := raiseFileLimit(o.idle + o.workers + 4*o.backends + 512); err != nil {
		return false, err
	}
	loadCPU, daemonCPU := -1, -1
	if _, err := exec.LookPath("taskset"); o.pin && err == nil {
		loadCPU, daemonCPU = 0, 1
		// The backends and the idle connections live here; keep them off
		// the daemon's CPU too.
		_ = exec.Command("taskset", "-a", "-p", "-c", "0", strconv.Itoa(os.Getpid())).Run()
	}
	dir, err := os.MkdirTemp("", "backline-soak-")
	if err != nil {
		return false, err
	}
	if o.keep {
		fmt.Printf("temporary directory kept: %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	bin := o.backline
	if bin == "" {
		if bin, err = buildBackline(dir); err != nil {
			return false, err
		}
	}
	// Every loop below ends with this context at the latest.
	ctx, cancel := context.WithTimeout(context.Background(), o.duration+3*time.Minute)
	defer cancel()

	helper, err := startBackendHelper(o, loadCPU, o.duration+3*time.Minute)
	if err != nil {
		return false, err
	}
	defer helper.kill()
	backends := helper.infos
	port, err := freePort()
	if err != nil {
		return false, err
	}
	apiAddr := "127.0.0.1:" + strconv.Itoa(port)
	st := setup{dir: dir, apiAddr: apiAddr, backends: backends, users: o.users,
		allocBytes: int64(o.allocBytes), scriptTimeout: o.scriptTimeout,
		vmPoolSize: min(max(2*o.workers, 10), 1024), maxConnections: max(o.maxConns, 0)}
	configPath, capWritten, err := st.prepare(ctx, bin)
	if err != nil {
		return false, err
	}
	d, err := startDaemon(bin, configPath, dir+"/daemon.log", apiAddr, daemonCPU)
	if err != nil {
		return false, err
	}
	defer d.stop(time.Second)
	printSetup(o, d, capWritten, loadCPU, daemonCPU)

	idleCtx, stopIdle := context.WithCancel(ctx)
	defer stopIdle()
	t0 := time.Now()
	idle := startIdle(idleCtx, apiAddr, o.idle)
	fmt.Printf("idle connections: %d open after %s (%d failed: %s)\n",
		idle.open.Load(), time.Since(t0).Round(time.Millisecond), idle.dialFails.Load(), idle.errorText())

	lg, err := startLoadgen(o, "http://"+apiAddr+"/api/v1/auth/nginx", loadCPU)
	if err != nil {
		return false, err
	}
	// Ctrl-C ends the load early; the run still stops its processes and
	// reports on what it measured.
	interrupted := make(chan os.Signal, 1)
	signal.Notify(interrupted, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(interrupted)
	go func() {
		select {
		case <-interrupted:
			_ = lg.cmd.Process.Signal(syscall.SIGINT)
		case <-lg.done:
		}
	}()
	samples := sampleUntil(o, d, apiAddr, idle, lg)
	res, lgErr := lg.result(o.duration + clientTimeout(o) + 30*time.Second)

	// The verdict's liveness facts are taken before anything is stopped.
	end := endState{alive: d.alive(), pid: d.pid, loadStart: lg.start}
	if end.alive {
		end.healthz, end.healthzLatency, end.healthzErr = getHealthz(apiAddr)
		end.transitions, _ = scrapeMetrics(apiAddr, map[string]string{"backline_backend_transitions_total": ""})
	}
	stopIdle()
	idle.wait()
	end.idleClosed, end.idleDialFails = idle.closed.Load(), idle.dialFails.Load()
	end.stopStatus = d.stop(10 * time.Second)
	end.backends, end.backendsErr = helper.stop()
	end.log = scanLog(d.logPath)
	return report(o, backends, samples, res, lgErr, end), nil
}

// raiseFileLimit lifts the soft RLIMIT_NOFILE to at least need (within the
// hard limit): the idle connections are file descriptors here too.
func raiseFileLimit(need int) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	if lim.Cur >= uint64(need) {
		return nil
	}
	if lim.Max < uint64(need) {
		return fmt.Errorf("RLIMIT_NOFILE hard limit %d is below the %d descriptors this run needs; lower -idle", lim.Max, need)
	}
	lim.Cur = uint64(need)
	return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
}

func printSetup(o options, d *daemon, capWritten bool, loadCPU, daemonCPU int) {
	pin := "no pinning (taskset missing or -pin=false)"
	if daemonCPU >= 0 {
		pin = fmt.Sprintf("daemon on CPU %d, load generator and soak on CPU %d", daemonCPU, loadCPU)
	}
	capText := "not written (the daemon has no server.max_connections)"
	if o.maxConns < 0 {
		capText = "not written (-max-connections -1)"
	} else if capWritten {
		capText = strconv.Itoa(o.maxConns)
	}
	fmt.Printf("soak: daemon PID %d; %s; %d backends (%d flapping, period %s); %d workers; %d users (%s misbehaving); "+
		"alloc %.0f bytes; script_timeout %s; server.max_connections %s; duration %s, warm-up %s\n",
		d.pid, pin, o.backends, o.backends/2, o.flapPeriod, o.workers, o.users, badShare(),
		o.allocBytes, o.scriptTimeout, capText, o.duration, o.warmup)
}

func badShare() string {
	if badEvery == 0 {
		return "none"
	}
	return fmt.Sprintf("%.3g%%", 100/float64(badEvery))
}
