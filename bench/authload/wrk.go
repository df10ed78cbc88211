package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// wrkOptions drive -mode wrk: backline and the bare handler each run as
// their own process pinned to serverCPU, wrk (Debian's) pinned to wrkCPU,
// all on loopback. This is how users measure; the in-process mode shares
// one Go runtime between client and servers and flatters the ratio.
type wrkOptions struct {
	backline, bare, wrk string
	filters             []int
	conns               []int
	rounds              int
	duration            time.Duration
	serverCPU, wrkCPU   int
	logLevel            string
	keep                bool
}

// wrkSample is one wrk run against one server.
type wrkSample struct {
	rps      float64
	requests int64
	cpuTicks int64 // utime+stime of the server process during the run
	non2xx   int64
	sockErrs string
}

func runWrkMode(o wrkOptions) {
	dir, err := os.MkdirTemp("", "authload-wrk")
	if err != nil {
		fatalf("%v", err)
	}
	if o.keep {
		fmt.Println("authload: keeping", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	if o.backline == "" || o.bare == "" {
		buildBinaries(dir, &o)
	}
	targets, stopTargets := startFakeIMAP(10)
	defer stopTargets()

	bare := startProcess(o.serverCPU, o.bare, "-listen", "127.0.0.1:0")
	defer bare.stop()
	bareURL := "http://" + bare.waitListening() + "/"

	hz := clockTicks()
	fmt.Printf("authload -mode wrk: server on CPU %d, wrk on CPU %d, %d round(s) of %s per point, wrk -t1; CPU/request from /proc/<pid>/stat (%d Hz)\n",
		o.serverCPU, o.wrkCPU, o.rounds, o.duration, hz)
	fmt.Printf("%-8s %-6s %-5s %12s %12s %7s %13s %13s %7s\n",
		"filters", "conns", "round", "bare req/s", "auth req/s", "ratio", "bare CPU/req", "auth CPU/req", "ratio")
	for _, nf := range o.filters {
		cfgPath := writeWrkConfig(dir, nf, targets, o.logLevel)
		srv := startProcess(o.serverCPU, o.backline, "serve", "--config", cfgPath)
		addr := srv.waitAddress(cfgPath)
		authURL := "http://" + addr + "/api/v1/auth/nginx"
		waitAuthOK(authURL)
		for _, c := range o.conns {
			var sumB, sumA float64
			var cpuB, cpuA, reqB, reqA int64
			for round := range o.rounds {
				// Interleaved, and the order flips each round, so drift in
				// the machine's load hits both sides alike.
				var b, a wrkSample
				if round%2 == 0 {
					b = runWrk(o, bare.pid(), bareURL, c)
					a = runWrk(o, srv.pid(), authURL, c)
				} else {
					a = runWrk(o, srv.pid(), authURL, c)
					b = runWrk(o, bare.pid(), bareURL, c)
				}
				if a.non2xx > 0 || b.non2xx > 0 || a.sockErrs != "" || b.sockErrs != "" {
					fmt.Printf("  warning: non-2xx %d/%d, socket errors %q/%q\n", b.non2xx, a.non2xx, b.sockErrs, a.sockErrs)
				}
				fmt.Printf("%-8d %-6d %-5d %12.0f %12.0f %7.2f %13s %13s %7.2f\n", nf, c, round+1, b.rps, a.rps, a.rps/b.rps,
					perReq(b.cpuTicks, b.requests, hz), perReq(a.cpuTicks, a.requests, hz),
					ratioCPU(a, b))
				sumB += b.rps
				sumA += a.rps
				cpuB += b.cpuTicks
				cpuA += a.cpuTicks
				reqB += b.requests
				reqA += a.requests
			}
			fmt.Printf("%-8d %-6d %-5s %12.0f %12.0f %7.2f %13s %13s %7.2f\n", nf, c, "mean", sumB/float64(o.rounds), sumA/float64(o.rounds), sumA/sumB,
				perReq(cpuB, reqB, hz), perReq(cpuA, reqA, hz),
				ratioCPU(wrkSample{cpuTicks: cpuA, requests: reqA}, wrkSample{cpuTicks: cpuB, requests: reqB}))
		}
		waitAuthOK(authURL) // still answering OK after the load
		srv.stop()
	}
	fmt.Println("\nratio = auth/bare req/s (target >= 0.6 with 1 filter, >= 0.35 with 5); CPU ratio = auth/bare CPU per request")
}

func perReq(ticks, reqs int64, hz int64) string {
	if reqs == 0 {
		return "-"
	}
	us := float64(ticks) * 1e6 / float64(hz) / float64(reqs)
	return fmt.Sprintf("%.1f µs", us)
}

func ratioCPU(a, b wrkSample) float64 {
	if a.requests == 0 || b.requests == 0 || b.cpuTicks == 0 {
		return 0
	}
	return (float64(a.cpuTicks) / float64(a.requests)) / (float64(b.cpuTicks) / float64(b.requests))
}

// buildBinaries compiles backline and the bare handler into dir.
func buildBinaries(dir string, o *wrkOptions) {
	for _, b := range []struct {
		dst *string
		pkg string
	}{{&o.backline, "./cmd/backline"}, {&o.bare, "./bench/authload/bare"}} {
		if *b.dst != "" {
			continue
		}
		out := filepath.Join(dir, filepath.Base(b.pkg))
		cmd := exec.Command("go", "build", "-o", out, b.pkg)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			fatalf("building %s (run from the module root): %v", b.pkg, err)
		}
		*b.dst = out
	}
}

// writeWrkConfig writes a backline config with n copies of the routing
// filter, the passwd-file, a long cache TTL and the fake IMAP targets.
func writeWrkConfig(dir string, n int, targets []string, logLevel string) string {
	passwd := filepath.Join(dir, "passwd")
	if err := os.WriteFile(passwd, []byte("user1:{PLAIN}password-1\n"), 0o600); err != nil {
		fatalf("%v", err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "server:\n  address: \"%s\"\n  log_level: %s\n", freeLoopbackPort(), logLevel)
	b.WriteString("auth:\n  cache:\n    ttl: 1h\n  services:\n    enabled: [backend_health_checks]\n    backend_health_checks:\n")
	b.WriteString("      connect_interval: 1h\n      jitter: 0\n      initial_state: healthy\n      targets:\n")
	for i, t := range targets {
		host, port, _ := net.SplitHostPort(t)
		fmt.Fprintf(&b, "        - {name: imap-%d, protocol: imap, host: \"%s\", port: %s}\n", i, host, port)
	}
	fmt.Fprintf(&b, "  passdb:\n    - type: passwd_file\n      path: %s\nlua:\n  filters:\n", passwd)
	for i := range n {
		script := filepath.Join(dir, fmt.Sprintf("route%d.lua", i))
		if err := os.WriteFile(script, []byte(filterScript), 0o600); err != nil {
			fatalf("%v", err)
		}
		fmt.Fprintf(&b, "    - name: route%d\n      script_path: %s\n", i, script)
	}
	path := filepath.Join(dir, fmt.Sprintf("backline-%d.yml", n))
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		fatalf("%v", err)
	}
	return path
}

// freeLoopbackPort picks a port for backline, which refuses port 0.
func freeLoopbackPort() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fatalf("%v", err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startFakeIMAP opens n loopback listeners that greet and close, so the
// connect probes pass.
func startFakeIMAP(n int) ([]string, func()) {
	var addrs []string
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fatalf("%v", err)
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

// started are the child processes, killed by fatalf so that a failed run
// leaves no server behind.
var (
	startedMu sync.Mutex
	started   []*process
)

func fatalf(format string, args ...any) {
	startedMu.Lock()
	for _, p := range started {
		_ = p.cmd.Process.Kill()
	}
	startedMu.Unlock()
	log.Fatalf(format, args...)
}

// process is a pinned child process whose stderr is scanned for its address.
type process struct {
	cmd   *exec.Cmd
	lines chan string
}

func startProcess(cpu int, bin string, args ...string) *process {
	all := append([]string{"-c", strconv.Itoa(cpu), bin}, args...)
	cmd := exec.Command("taskset", all...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		fatalf("%v", err)
	}
	if err := cmd.Start(); err != nil {
		fatalf("starting %s under taskset: %v", bin, err)
	}
	p := &process{cmd: cmd, lines: make(chan string, 64)}
	startedMu.Lock()
	started = append(started, p)
	startedMu.Unlock()
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			select {
			case p.lines <- sc.Text():
			default: // the request log: nobody reads it, keep draining
			}
		}
		close(p.lines)
	}()
	return p
}

// pid is the server's own pid: taskset execs it, so they are the same.
func (p *process) pid() int { return p.cmd.Process.Pid }

func (p *process) stop() {
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
}

var listeningRe = regexp.MustCompile(`(127\.0\.0\.1:\d+)`)

// waitListening reads "listening 127.0.0.1:PORT" from the bare handler.
func (p *process) waitListening() string {
	timeout := time.After(10 * time.Second)
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				fatalf("bare handler exited")
			}
			if strings.HasPrefix(line, "listening ") {
				return listeningRe.FindString(line)
			}
		case <-timeout:
			fatalf("bare handler did not start")
		}
	}
}

// waitAddress finds backline's API address in its start-up log.
func (p *process) waitAddress(cfg string) string {
	timeout := time.After(15 * time.Second)
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				fatalf("backline exited (config %s)", cfg)
			}
			if strings.Contains(line, "listening") || strings.Contains(line, "address=") {
				if a := listeningRe.FindString(line); a != "" {
					return a
				}
			}
		case <-timeout:
			fatalf("backline did not log its address")
		}
	}
}

// waitAuthOK polls until the auth endpoint answers OK with a server (the
// first health round done) and so fills the cache.
func waitAuthOK(url string) {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(15 * time.Second)
	for {
		r, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
		for k, v := range wrkHeaders {
			r.Header.Set(k, v)
		}
		resp, err := client.Do(r)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.Header.Get("Auth-Status") == "OK" && resp.Header.Get("Auth-Server") != "" {
				return
			}
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = errors.New(fmt.Sprint(resp.Header))
			}
			fatalf("auth endpoint not answering OK: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// wrkHeaders are nginx's auth_http request for one user (cached after the
// first request).
var wrkHeaders = map[string]string{
	"Auth-Method": "plain", "Auth-User": "user1", "Auth-Pass": "password-1", "Auth-Protocol": "imap",
	"Auth-Login-Attempt": "1", "Client-IP": "192.0.2.1",
}

var (
	rpsRe    = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	totalRe  = regexp.MustCompile(`(\d+) requests in`)
	non2xxRe = regexp.MustCompile(`Non-2xx or 3xx responses:\s+(\d+)`)
	sockRe   = regexp.MustCompile(`Socket errors:[^\n]*`)
)

func runWrk(o wrkOptions, pid int, url string, conns int) wrkSample {
	args := []string{"-c", strconv.Itoa(o.wrkCPU), o.wrk, "-t1", "-c" + strconv.Itoa(conns),
		"-d" + strconv.Itoa(max(1, int(o.duration.Round(time.Second).Seconds()))) + "s"}
	for k, v := range wrkHeaders {
		args = append(args, "-H", k+": "+v)
	}
	args = append(args, url)
	before := procTicks(pid)
	out, err := exec.Command("taskset", args...).CombinedOutput()
	after := procTicks(pid)
	if err != nil {
		fatalf("wrk: %v\n%s", err, out)
	}
	s, ok := parseWrk(out)
	if !ok {
		fatalf("wrk: no Requests/sec in\n%s", out)
	}
	s.cpuTicks = after - before
	return s
}

// parseWrk reads wrk's summary: req/s, the request count, non-2xx
// answers and the socket error line.
func parseWrk(out []byte) (wrkSample, bool) {
	var s wrkSample
	m := rpsRe.FindSubmatch(out)
	if m == nil {
		return s, false
	}
	s.rps, _ = strconv.ParseFloat(string(m[1]), 64)
	if m := totalRe.FindSubmatch(out); m != nil {
		s.requests, _ = strconv.ParseInt(string(m[1]), 10, 64)
	}
	if m := non2xxRe.FindSubmatch(out); m != nil {
		s.non2xx, _ = strconv.ParseInt(string(m[1]), 10, 64)
	}
	if m := sockRe.Find(out); m != nil {
		s.sockErrs = string(m)
	}
	return s, true
}

// procTicks is utime+stime of pid (all its threads) in clock ticks.
func procTicks(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		fatalf("%v", err)
	}
	return statTicks(string(data))
}

// statTicks is utime+stime from the text of /proc/<pid>/stat.
func statTicks(s string) int64 {
	// The command name may hold spaces; fields count from after its ')'.
	i := strings.LastIndexByte(s, ')')
	fields := strings.Fields(s[i+1:])
	// fields[0] is state (field 3); utime is field 14, stime 15.
	if len(fields) < 13 {
		fatalf("unexpected /proc/<pid>/stat: %q", s)
	}
	ut, _ := strconv.ParseInt(fields[11], 10, 64)
	st, _ := strconv.ParseInt(fields[12], 10, 64)
	return ut + st
}

// clockTicks is sysconf(_SC_CLK_TCK); Linux reports CPU time in 1/100 s.
func clockTicks() int64 {
	if out, err := exec.Command("getconf", "CLK_TCK").Output(); err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err == nil && n > 0 {
			return n
		}
	}
	return 100
}
