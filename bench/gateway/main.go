// Command gateway benchmarks backline's HTTP gateway as users compare
// proxies: Debian's wrk (one thread, 50 keep-alive connections) pinned to
// one CPU, each proxy pinned to the other with taskset, an nginx origin
// serving static files, and in the same run
//
//	nginx       proxy_pass, upstream keepalive, default proxy buffers
//	nginx-64k   the same with proxy_buffers 16 64k
//	haproxy     mode http, http-reuse always
//	backline    gateway.New with one backend and one proxy endpoint
//	go-floor    the thinnest Go keep-alive proxy (floor.go): what Go's
//	            runtime and netpoller cost before any HTTP work
//
// for four workloads: a 22-byte GET, a 16 KiB POST (22-byte answer), a
// 64 KiB GET and a 1 MiB GET. Rounds interleave the proxies (the order
// rotates each round) so a neighbour's burst of load hits all alike; each
// figure is the median over the rounds. Besides req/s it prints CPU per
// request of every proxy process (utime+stime from /proc/<pid>/stat, all
// threads and worker processes), which the neighbours' load distorts much
// less than throughput, and ratios against nginx, nginx-64k and HAProxy.
//
//	go build -o /tmp/gwbench ./bench/gateway && /tmp/gwbench -duration 5s -rounds 3
//
// The gateway runs in a child process (this binary with -serve-gateway).
// BENCH_CPUPROFILE=file makes that child write a CPU profile of the run.
// BENCH_MEMPROFILE=file makes it write a profile of every allocation.
// go-floor writes the same profiles to file.floor.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/backline/backline/bench/internal/wrkbench"
	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/gateway"
	"github.com/backline/backline/internal/gcfloor"
	"github.com/backline/backline/internal/procfloor"
)

type options struct {
	wrk, nginx, haproxy  string
	duration             time.Duration
	rounds, conns        int
	serverCPU, clientCPU int
	only                 string
	floor                bool
	strict               bool
	// ab is another build of this bench whose gateway runs as
	// "backline-ab" next to this one's, for A/B comparisons.
	ab string
}

// workload is one kind of request every proxy gets.
type workload struct {
	name, path string
	postBytes  int // 0: GET
}

var workloads = []workload{
	{"get22", "/22", 0},
	{"post16k", "/22", 16 << 10},
	{"get64k", "/64k", 0},
	{"get1m", "/1m", 0},
}

// proxy is one process under test, listening on addr.
type proxy struct {
	name string
	addr string
	proc *process
}

func main() {
	var o options
	serve := flag.String("serve-gateway", "", "internal: serve the gateway on this address (origin in -origin)")
	serveFloorAt := flag.String("serve-floor", "", "internal: serve the go-floor proxy on this address (origin in -origin)")
	flag.BoolVar(&o.floor, "floor", true, "run go-floor, the thinnest Go keep-alive proxy, as the baseline")
	serveStrictAt := flag.String("serve-strict", "", "internal: serve the go-strict proxy on this address (origin in -origin)")
	flag.BoolVar(&o.strict, "strict", false, "also run go-strict: go-floor with backline's checks and header handling on bytes (strict.go)")
	origin := flag.String("origin", "", "internal: the origin's host:port for -serve-gateway")
	flag.StringVar(&o.wrk, "wrk", "/usr/bin/wrk", "wrk binary")
	flag.StringVar(&o.nginx, "nginx", "/usr/sbin/nginx", "nginx binary (the origin and two of the proxies)")
	flag.StringVar(&o.haproxy, "haproxy", "/usr/sbin/haproxy", "haproxy binary (empty: skip)")
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "length of each wrk run")
	flag.IntVar(&o.rounds, "rounds", 3, "interleaved rounds per workload")
	flag.IntVar(&o.conns, "connections", 50, "wrk keep-alive connections")
	flag.IntVar(&o.serverCPU, "server-cpu", 0, "CPU the proxies are pinned to")
	flag.IntVar(&o.clientCPU, "client-cpu", 1, "CPU wrk is pinned to")
	flag.StringVar(&o.only, "only", "", "comma-separated workloads (get22,post16k,get64k,get1m); empty: all")
	flag.StringVar(&o.ab, "ab", "", "another build of this bench: its gateway runs too, as backline-ab")
	flag.Parse()
	if *serveFloorAt != "" {
		serveFloor(*serveFloorAt, *origin)
		return
	}
	if *serveStrictAt != "" {
		serveStrict(*serveStrictAt, *origin)
		return
	}
	if *serve != "" {
		serveGateway(*serve, *origin)
		return
	}
	if o.nginx == "" {
		log.Fatal("-nginx cannot be empty: the origin every proxy forwards to is nginx")
	}
	wrkbench.NeedTools(o.wrk, "taskset", o.nginx, o.haproxy)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() { <-sigs; fatalf("interrupted") }()
	run(o)
	killAll()
}

func run(o options) {
	dir, err := os.MkdirTemp("", "backline-gwbench-")
	if err != nil {
		fatalf("%v", err)
	}
	defer os.RemoveAll(dir)
	// nginx's workers may run as another user (nobody when started as root).
	if err := os.Chmod(dir, 0o755); err != nil {
		fatalf("%v", err)
	}
	originAddr := startOrigin(o, dir)
	proxies := []proxy{startNginxProxy(o, dir, "nginx", originAddr, ""),
		startNginxProxy(o, dir, "nginx-64k", originAddr, "proxy_buffers 16 64k;")}
	if o.haproxy != "" {
		proxies = append(proxies, startHAProxy(o, dir, originAddr))
	}
	self, err := os.Executable()
	if err != nil {
		fatalf("%v", err)
	}
	proxies = append(proxies, startGatewayProc(o, dir, "backline", self, originAddr))
	if o.floor {
		addr := freeLoopbackPort()
		p := startProcess(o.serverCPU, filepath.Join(dir, "go-floor.log"), self, "-serve-floor", addr, "-origin", originAddr)
		proxies = append(proxies, proxy{name: "go-floor", addr: addr, proc: p})
	}
	if o.strict {
		addr := freeLoopbackPort()
		p := startProcess(o.serverCPU, filepath.Join(dir, "go-strict.log"), self, "-serve-strict", addr, "-origin", originAddr)
		proxies = append(proxies, proxy{name: "go-strict", addr: addr, proc: p})
	}
	if o.ab != "" {
		proxies = append(proxies, startGatewayProc(o, dir, "backline-ab", o.ab, originAddr))
	}
	for _, p := range proxies {
		waitListening(p.addr, p.proc)
	}
	fmt.Printf("wrk -t1 -c%d -d%s on CPU %d, proxies on CPU %d, origin nginx unpinned; %d rounds, medians\n",
		o.conns, o.duration, o.clientCPU, o.serverCPU, o.rounds)
	for _, w := range workloads {
		if o.only != "" && !strings.Contains(","+o.only+",", ","+w.name+",") {
			continue
		}
		script := writeWrkScript(dir, w)
		samples := map[string][]sample{}
		for round := 0; round < o.rounds; round++ {
			for i := range proxies {
				p := proxies[(i+round)%len(proxies)]
				samples[p.name] = append(samples[p.name], measure(o, p, script, w))
			}
		}
		report(w, proxies, samples)
	}
}

// sample is one wrk run against one proxy.
type sample struct {
	rps       float64
	cpuPerReq float64 // µs
	errors    string
}

func measure(o options, p proxy, script string, w workload) sample {
	before := treeTicks(p.proc.pid())
	s := runWrk(o, script, "http://"+p.addr+w.path)
	time.Sleep(settle)
	ticks := treeTicks(p.proc.pid()) - before
	out := sample{rps: s.rps, errors: s.errors()}
	if s.requests > 0 {
		out.cpuPerReq = float64(ticks) * 1e6 / float64(clockTicks) / float64(s.requests)
	}
	return out
}

func report(w workload, proxies []proxy, samples map[string][]sample) {
	fmt.Printf("\n%s:\n", w.name)
	med := map[string]sample{}
	for _, p := range proxies {
		ss := samples[p.name]
		m := sample{rps: medianOf(ss, func(s sample) float64 { return s.rps }),
			cpuPerReq: medianOf(ss, func(s sample) float64 { return s.cpuPerReq })}
		med[p.name] = m
		var errs []string
		for _, s := range ss {
			if s.errors != "" {
				errs = append(errs, s.errors)
			}
		}
		fmt.Printf("  %-10s %9.0f req/s  CPU/req %7.1f µs  %s\n", p.name, m.rps, m.cpuPerReq, strings.Join(errs, "; "))
	}
	bl, ok := med["backline"]
	if !ok {
		return
	}
	for _, peer := range []string{"nginx", "nginx-64k", "haproxy", "go-floor", "go-strict", "backline-ab"} {
		if m, ok := med[peer]; ok && m.rps > 0 && m.cpuPerReq > 0 {
			fmt.Printf("  backline/%-9s throughput %.2f  CPU per request %.2f\n", peer, bl.rps/m.rps, bl.cpuPerReq/m.cpuPerReq)
		}
	}
}

func medianOf(ss []sample, get func(sample) float64) float64 {
	v := make([]float64, len(ss))
	for i, s := range ss {
		v[i] = get(s)
	}
	sort.Float64s(v)
	return v[len(v)/2]
}

// serveGateway is the child process: backline's gateway and nothing else.
func serveGateway(addr, origin string) {
	procfloor.Apply() // as backline serve does
	if os.Getenv("GOGC") == "" {
		defer gcfloor.Start(gcfloor.DefaultFloor).Stop()
	}
	cfg, err := config.Parse([]byte(fmt.Sprintf(`definitions:
  backends:
    origin:
      origin: http://%s
gateway:
  address: %s
  endpoints:
    - path: /**
      proxy:
        backend: origin
`, origin, addr)))
	if err != nil {
		log.Fatal(err)
	}
	gw, err := gateway.New(gateway.Options{Config: cfg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	defer startProfiles("")()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	_ = gw.ServeListener(ctx, ln)
}

func startGatewayProc(o options, dir, name, bin, origin string) proxy {
	addr := freeLoopbackPort()
	p := startProcess(o.serverCPU, filepath.Join(dir, name+".log"), bin, "-serve-gateway", addr, "-origin", origin)
	return proxy{name: name, addr: addr, proc: p}
}

// startProfiles starts the profiles BENCH_CPUPROFILE and BENCH_MEMPROFILE
// ask for, their file names suffixed with suffix; the returned function
// writes them.
func startProfiles(suffix string) (stop func()) {
	var stops []func()
	if path := os.Getenv("BENCH_CPUPROFILE"); path != "" {
		f, err := os.Create(path + suffix)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		stops = append(stops, func() { pprof.StopCPUProfile(); f.Close() })
	}
	if path := os.Getenv("BENCH_MEMPROFILE"); path != "" {
		// Every allocation of the run, written when the gateway stops.
		runtime.MemProfileRate = 1
		stops = append(stops, func() {
			f, err := os.Create(path + suffix)
			if err != nil {
				log.Fatal(err)
			}
			defer f.Close()
			if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
				log.Fatal(err)
			}
		})
	}
	return func() {
		for _, stop := range stops {
			stop()
		}
	}
}
