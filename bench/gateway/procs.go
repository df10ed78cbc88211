package main

import (
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// settle lets requests in flight at wrk's stop finish before counting CPU.
const settle = 200 * time.Millisecond

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's times (100 on Linux).
var clockTicks = func() int64 {
	if out, err := exec.Command("getconf", "CLK_TCK").Output(); err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err == nil && n > 0 {
			return n
		}
	}
	return 100
}()

var (
	startedMu sync.Mutex
	started   []*process
)

func killAll() {
	startedMu.Lock()
	defer startedMu.Unlock()
	for _, p := range started {
		_ = p.cmd.Process.Signal(os.Interrupt)
	}
	for _, p := range started {
		select {
		case <-p.done:
		case <-time.After(3 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	started = nil
}

// fatalf stops every child first so a failed run leaves no server behind.
func fatalf(format string, args ...any) {
	killAll()
	log.Fatalf(format, args...)
}

type process struct {
	cmd  *exec.Cmd
	logf string
	done chan struct{}
}

// startProcess runs bin pinned to cpu with taskset (cpu < 0: unpinned).
func startProcess(cpu int, logPath, bin string, args ...string) *process {
	f, err := os.Create(logPath)
	if err != nil {
		fatalf("%v", err)
	}
	cmd := exec.Command(bin, args...)
	if cpu >= 0 {
		cmd = exec.Command("taskset", append([]string{"-c", strconv.Itoa(cpu), bin}, args...)...)
	}
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		fatalf("starting %s: %v", bin, err)
	}
	p := &process{cmd: cmd, logf: logPath, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); f.Close(); close(p.done) }()
	startedMu.Lock()
	started = append(started, p)
	startedMu.Unlock()
	return p
}

// pid is the child's own pid: taskset execs it.
func (p *process) pid() int { return p.cmd.Process.Pid }

func waitListening(addr string, p *process) {
	for i := 0; i < 200; i++ {
		select {
		case <-p.done:
			b, _ := os.ReadFile(p.logf)
			fatalf("%s exited: %s", p.cmd.Path, b)
		default:
		}
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	fatalf("nothing listens on %s", addr)
}

func freeLoopbackPort() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fatalf("%v", err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// treeTicks is utime+stime of pid and its direct children (nginx's
// workers), in clock ticks.
func treeTicks(pid int) int64 {
	total := statTicks(pid)
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil || child == pid {
			continue
		}
		if ppid, _ := procStat(child); ppid == pid {
			total += statTicks(child)
		}
	}
	return total
}

func statTicks(pid int) int64 { _, t := procStat(pid); return t }

// procStat returns the parent pid and utime+stime of pid.
func procStat(pid int) (int, int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0
	}
	// The command name may hold spaces; fields count from after its ')'.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0, 0
	}
	ppid, _ := strconv.Atoi(fields[1])
	ut, _ := strconv.ParseInt(fields[11], 10, 64)
	st, _ := strconv.ParseInt(fields[12], 10, 64)
	return ppid, ut + st
}

// wrkScript sends every request with a body of the workload's size.
const wrkScript = `wrk.method = "%s"
wrk.body = string.rep("x", %d)
`

func writeWrkScript(dir string, w workload) string {
	method := "GET"
	if w.postBytes > 0 {
		method = "POST"
	}
	path := fmt.Sprintf("%s/%s.lua", dir, w.name)
	writeFile(path, fmt.Sprintf(wrkScript, method, w.postBytes))
	return path
}

type wrkResult struct {
	rps      float64
	requests int64
	non2xx   int64
	sockErrs string
}

func (r wrkResult) errors() string {
	var parts []string
	if r.non2xx > 0 {
		parts = append(parts, fmt.Sprintf("non-2xx %d", r.non2xx))
	}
	if r.sockErrs != "" {
		parts = append(parts, r.sockErrs)
	}
	return strings.Join(parts, ", ")
}

var (
	rpsRe    = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	totalRe  = regexp.MustCompile(`(\d+) requests in`)
	non2xxRe = regexp.MustCompile(`Non-2xx or 3xx responses:\s+(\d+)`)
	sockRe   = regexp.MustCompile(`Socket errors:[^\n]*`)
)

func runWrk(o options, script, url string) wrkResult {
	secs := max(1, int(o.duration.Round(time.Second).Seconds()))
	cmd := exec.Command("taskset", "-c", strconv.Itoa(o.clientCPU), o.wrk, "-t1", "-c"+strconv.Itoa(o.conns),
		"-d"+strconv.Itoa(secs)+"s", "-s", script, url)
	out, err := cmd.CombinedOutput()
	if err != nil {
		fatalf("wrk %s: %v\n%s", url, err, out)
	}
	var r wrkResult
	m := rpsRe.FindSubmatch(out)
	if m == nil {
		fatalf("wrk: no Requests/sec in\n%s", out)
	}
	r.rps, _ = strconv.ParseFloat(string(m[1]), 64)
	if m := totalRe.FindSubmatch(out); m != nil {
		r.requests, _ = strconv.ParseInt(string(m[1]), 10, 64)
	}
	if m := non2xxRe.FindSubmatch(out); m != nil {
		r.non2xx, _ = strconv.ParseInt(string(m[1]), 10, 64)
	}
	if m := sockRe.Find(out); m != nil {
		r.sockErrs = string(m)
	}
	return r
}
