package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/backline/backline/bench/internal/wrkbench"
)

// fatalf kills the children started so far (also on a signal, see main)
// so that a failed run leaves no server behind, then exits.
var fatalf = wrkbench.Fatalf

// process is a child pinned with taskset; its output goes to a log file.
type process struct {
	cmd  *exec.Cmd
	logf string
	done chan struct{}
}

func startProcess(cpu int, logPath, bin string, args ...string) *process {
	f, err := os.Create(logPath)
	if err != nil {
		fatalf("%v", err)
	}
	cmd := wrkbench.Pinned(cpu, bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := wrkbench.Start(cmd); err != nil {
		fatalf("starting %s under taskset: %v", bin, err)
	}
	p := &process{cmd: cmd, logf: logPath, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p
}

// pid is the child's own pid: taskset execs it, so they are the same.
func (p *process) pid() int { return p.cmd.Process.Pid }

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *process) stop() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// tail is the end of the child's log, for error messages.
func (p *process) tail() string {
	b, _ := os.ReadFile(p.logf)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// redisServer is the private redis-server: no persistence, loopback only.
type redisServer struct {
	*process
	addr   string
	client *redis.Client
}

func startRedis(o options, dir string) *redisServer {
	addr := wrkbench.FreeLoopbackPort()
	_, port, _ := net.SplitHostPort(addr)
	rdir := filepath.Join(dir, "redis")
	if err := os.Mkdir(rdir, 0o700); err != nil {
		fatalf("%v", err)
	}
	p := startProcess(o.clientCPU, filepath.Join(dir, "redis.log"), o.redisServer,
		"--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", rdir)
	// One connection: our INFO calls do not add connection set-up commands.
	c := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 1, MinIdleConns: 1})
	deadline := time.Now().Add(10 * time.Second)
	for c.Ping(context.Background()).Err() != nil {
		if p.exited() || time.Now().After(deadline) {
			fatalf("redis-server did not answer on %s:\n%s", addr, p.tail())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return &redisServer{process: p, addr: addr, client: c}
}

func (r *redisServer) stop() {
	r.client.Close()
	r.process.stop()
}

var cmdstatRe = regexp.MustCompile(`(?m)^cmdstat_([^:]+):calls=(\d+)`)

// commandStats is calls per command from INFO commandstats.
func (r *redisServer) commandStats(ctx context.Context) map[string]int64 {
	s, err := r.client.Info(ctx, "commandstats").Result()
	if err != nil {
		fatalf("redis INFO commandstats: %v", err)
	}
	return parseCommandStats(s)
}

func parseCommandStats(s string) map[string]int64 {
	m := map[string]int64{}
	for _, sm := range cmdstatRe.FindAllStringSubmatch(s, -1) {
		n, _ := strconv.ParseInt(sm[2], 10, 64)
		m[sm[1]] = n
	}
	return m
}

// scriptInnerCalls is how many commands the affinity get-or-set script
// (internal/state/redisbatch.go) calls inside Redis per run: GET, then
// PEXPIRE or SET. INFO commandstats counts them like client commands; they
// cost no round trip, so the total leaves them out (the breakdown shows them).
const scriptInnerCalls = 2

// diffStats is the calls made between two INFO snapshots, without our
// own INFO (one per snapshot); total counts the commands clients sent
// (round trips, pipelined or not), not those a script called.
func diffStats(before, after map[string]int64) (map[string]int64, int64) {
	d := map[string]int64{}
	var total int64
	for k, n := range after {
		if k == "info" {
			continue
		}
		if x := n - before[k]; x > 0 {
			d[k] = x
			total += x
		}
	}
	total -= scriptInnerCalls * (d["evalsha"] + d["eval"])
	return d, max(total, 0)
}

func sortedKeys(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	return keys
}

// writePasswd writes users user1..userN with the plain passwords
// password-1..password-N (test accounts on loopback only).
func writePasswd(dir string, users int) {
	var b strings.Builder
	for i := 1; i <= users; i++ {
		fmt.Fprintf(&b, "user%d:{PLAIN}password-%d\n", i, i)
	}
	if err := os.WriteFile(filepath.Join(dir, "passwd"), []byte(b.String()), 0o600); err != nil {
		fatalf("%v", err)
	}
}

// writeConfig writes the backline config of v and returns its path and
// API address.
func writeConfig(dir string, v *variant, targets []string, redisAddr, logLevel string) (string, string) {
	addr := wrkbench.FreeLoopbackPort()
	var b strings.Builder
	b.WriteString(wrkbench.ConfigHead(addr, logLevel, targets))
	fmt.Fprintf(&b, "  passdb:\n    - type: passwd_file\n      path: %s\n", filepath.Join(dir, "passwd"))
	fmt.Fprintf(&b, "  nginx:\n    default_policy: %s\n", v.policy)
	if v.redis {
		fmt.Fprintf(&b, "storage:\n  redis:\n    primary:\n      address: \"%s\"\n    prefix: \"bench:\"\n", redisAddr)
	}
	path := filepath.Join(dir, v.name+".yml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		fatalf("%v", err)
	}
	return path, addr
}

// waitAuthOK polls until the endpoint answers OK with a server.
func waitAuthOK(url string, p *process) {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(15 * time.Second)
	for {
		ok, last := wrkbench.AuthOK(client, url)
		if ok {
			return
		}
		if p.exited() || time.Now().After(deadline) {
			fatalf("%s not answering OK (%s); log:\n%s", url, last, p.tail())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
