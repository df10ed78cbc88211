package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// wrkScript builds one nginx auth_http request per user once, in init,
// and sends them in turn, so every user logs in equally often.
const wrkScript = `
local reqs = {}
local n = 0
function init(args)
  for i = 1, %d do
    wrk.headers["Auth-Method"] = "plain"
    wrk.headers["Auth-Protocol"] = "imap"
    wrk.headers["Auth-Login-Attempt"] = "1"
    wrk.headers["Client-IP"] = "192.0.2.1"
    wrk.headers["Auth-User"] = "user" .. i
    wrk.headers["Auth-Pass"] = "password-" .. i
    reqs[i] = wrk.format("GET")
  end
end
function request()
  n = n %% #reqs + 1
  return reqs[n]
end
`

func writeWrkScript(dir string, users int) string {
	path := filepath.Join(dir, "users.lua")
	if err := os.WriteFile(path, []byte(fmt.Sprintf(wrkScript, users)), 0o600); err != nil {
		fatalf("%v", err)
	}
	return path
}

// wrkSample is one wrk run.
type wrkSample struct {
	rps      float64
	requests int64
	non2xx   int64
	sockErrs string
}

var (
	rpsRe    = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	totalRe  = regexp.MustCompile(`(\d+) requests in`)
	non2xxRe = regexp.MustCompile(`Non-2xx or 3xx responses:\s+(\d+)`)
	sockRe   = regexp.MustCompile(`Socket errors:[^\n]*`)
)

func runWrk(o options, script, url string, d time.Duration) wrkSample {
	secs := max(1, int(d.Round(time.Second).Seconds()))
	cmd := exec.Command("taskset", "-c", strconv.Itoa(o.clientCPU), o.wrk, "-t1", "-c"+strconv.Itoa(o.conns),
		"-d"+strconv.Itoa(secs)+"s", "-s", script, url)
	// wrk is short-lived; it still goes on the kill list.
	p := &process{cmd: cmd, done: make(chan struct{})}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		fatalf("wrk: %v", err)
	}
	startedMu.Lock()
	started = append(started, p)
	startedMu.Unlock()
	err := cmd.Wait()
	close(p.done)
	if err != nil {
		fatalf("wrk: %v\n%s", err, out.String())
	}
	s, ok := parseWrk([]byte(out.String()))
	if !ok {
		fatalf("wrk: no Requests/sec in\n%s", out.String())
	}
	return s
}

// parseWrk reads wrk's summary.
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
	if i < 0 || len(fields) < 13 {
		fatalf("unexpected /proc/<pid>/stat: %q", s)
	}
	// fields[0] is field 3 (state); utime is field 14, stime 15.
	ut, _ := strconv.ParseInt(fields[11], 10, 64)
	st, _ := strconv.ParseInt(fields[12], 10, 64)
	return ut + st
}

// clockTicks is sysconf(_SC_CLK_TCK).
func clockTicks() int64 {
	if out, err := exec.Command("getconf", "CLK_TCK").Output(); err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err == nil && n > 0 {
			return n
		}
	}
	return 100
}
