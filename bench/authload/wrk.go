package main

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/backline/backline/bench/internal/wrkbench"
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
	wrkbench.Sample
	cpuTicks int64 // utime+stime of the server process during the run
}

func runWrkMode(o wrkOptions) {
	dir, targets, cleanup := prepareWrkRun(&o, "authload-wrk")
	defer cleanup()

	bare := startProcess(o.serverCPU, o.bare, "-listen", "127.0.0.1:0")
	defer bare.stop()
	bareURL := "http://" + bare.waitListening() + "/"

	hz := wrkbench.ClockTicks()
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
				if a.Non2xx > 0 || b.Non2xx > 0 || a.SockErrs != "" || b.SockErrs != "" {
					fmt.Printf("  warning: non-2xx %d/%d, socket errors %q/%q\n", b.Non2xx, a.Non2xx, b.SockErrs, a.SockErrs)
				}
				fmt.Printf("%-8d %-6d %-5d %12.0f %12.0f %7.2f %13s %13s %7.2f\n", nf, c, round+1, b.RPS, a.RPS, a.RPS/b.RPS,
					wrkbench.PerReq(b.cpuTicks, b.Requests, hz), wrkbench.PerReq(a.cpuTicks, a.Requests, hz),
					ratioCPU(a, b))
				sumB += b.RPS
				sumA += a.RPS
				cpuB += b.cpuTicks
				cpuA += a.cpuTicks
				reqB += b.Requests
				reqA += a.Requests
			}
			fmt.Printf("%-8d %-6d %-5s %12.0f %12.0f %7.2f %13s %13s %7.2f\n", nf, c, "mean", sumB/float64(o.rounds), sumA/float64(o.rounds), sumA/sumB,
				wrkbench.PerReq(cpuB, reqB, hz), wrkbench.PerReq(cpuA, reqA, hz),
				ratioCPU(wrkSample{cpuTicks: cpuA, Sample: wrkbench.Sample{Requests: reqA}}, wrkSample{cpuTicks: cpuB, Sample: wrkbench.Sample{Requests: reqB}}))
		}
		waitAuthOK(authURL) // still answering OK after the load
		srv.stop()
	}
	fmt.Println("\nratio = auth/bare req/s (target >= 0.6 with 1 filter, >= 0.35 with 5); CPU ratio = auth/bare CPU per request")
}

// prepareWrkRun makes the run's temporary directory (kept with -keep),
// builds the binaries not given and starts the fake IMAP backends;
// cleanup stops them and removes the directory.
func prepareWrkRun(o *wrkOptions, prefix string) (dir string, targets []string, cleanup func()) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		fatalf("%v", err)
	}
	if o.keep {
		fmt.Println("authload: keeping", dir)
	}
	if o.backline == "" || o.bare == "" {
		buildBinaries(dir, o)
	}
	targets, stopTargets := wrkbench.StartFakeIMAP(10)
	return dir, targets, func() {
		stopTargets()
		if !o.keep {
			os.RemoveAll(dir)
		}
	}
}

func ratioCPU(a, b wrkSample) float64 {
	if a.Requests == 0 || b.Requests == 0 || b.cpuTicks == 0 {
		return 0
	}
	return (float64(a.cpuTicks) / float64(a.Requests)) / (float64(b.cpuTicks) / float64(b.Requests))
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
		*b.dst = wrkbench.Build(dir, b.pkg)
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
	b.WriteString(wrkbench.ConfigHead(wrkbench.FreeLoopbackPort(), logLevel, targets))
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

// fatalf kills the children started so far, then exits.
var fatalf = wrkbench.Fatalf

// process is a pinned child process whose stderr is scanned for its address.
type process struct {
	cmd   *exec.Cmd
	lines chan string
}

func startProcess(cpu int, bin string, args ...string) *process {
	cmd := wrkbench.Pinned(cpu, bin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		fatalf("%v", err)
	}
	if err := wrkbench.Start(cmd); err != nil {
		fatalf("starting %s under taskset: %v", bin, err)
	}
	p := &process{cmd: cmd, lines: make(chan string, 64)}
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
		ok, last := wrkbench.AuthOK(client, url)
		if ok {
			return
		}
		if time.Now().After(deadline) {
			fatalf("auth endpoint not answering OK: %v", last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// runWrk runs wrk with nginx's auth_http headers for user1 (cached after
// the first request) and measures the server's CPU time meanwhile.
func runWrk(o wrkOptions, pid int, url string, conns int) wrkSample {
	var headers []string
	for k, v := range wrkbench.NginxAuthHeaders {
		headers = append(headers, "-H", k+": "+v)
	}
	w := wrkbench.Wrk{Bin: o.wrk, CPU: o.wrkCPU, Conns: conns, Duration: o.duration, Extra: headers}
	before := wrkbench.ProcTicks(pid)
	s := w.Run(url)
	after := wrkbench.ProcTicks(pid)
	return wrkSample{Sample: s, cpuTicks: after - before}
}
