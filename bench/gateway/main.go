// Command gateway benchmarks backline's HTTP gateway against a direct
// connection to the origin and against nginx proxy_pass with upstream
// keepalive, all under the same load in one run.
//
//	go run ./bench/gateway [-duration 5s] [-connections 50] [-nginx /usr/sbin/nginx]
//
// The load generator runs in a separate process (this binary re-executed
// with -loadgen) so it does not share a Go runtime with the gateway.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/gateway"
)

// result is what one load run measured.
type result struct {
	Requests int `json:"requests"`
	// WarmupRequests were sent before the clock started (for CPU per request).
	WarmupRequests int           `json:"warmup_requests"`
	Errors         int           `json:"errors"`
	Elapsed        time.Duration `json:"elapsed"`
	P50            time.Duration `json:"p50"`
	P99            time.Duration `json:"p99"`
}

func (r result) rps() float64 { return float64(r.Requests) / r.Elapsed.Seconds() }

func main() {
	loadgen := flag.String("loadgen", "", "internal: run the load generator against this URL")
	originAddr := flag.String("origin", "", "internal: serve the origin on this address")
	duration := flag.Duration("duration", 5*time.Second, "length of each measurement")
	conns := flag.Int("connections", 50, "keep-alive client connections")
	nginxBin := flag.String("nginx", "/usr/sbin/nginx", "nginx binary (empty: skip nginx)")
	flag.StringVar(&cpuProfile, "cpuprofile", "", "profile one backline run into this file (no comparison)")
	flag.IntVar(&rounds, "rounds", 3, "measurement rounds per target, interleaved")
	flag.Parse()
	if *originAddr != "" {
		serveOrigin(*originAddr)
		return
	}
	if *loadgen != "" {
		runLoad(*loadgen, *conns, *duration)
		return
	}
	if err := run(*duration, *conns, *nginxBin); err != nil {
		log.Fatal(err)
	}
}

func run(duration time.Duration, conns int, nginxBin string) error {
	// The origin runs in its own process too, so the gateway's runtime is
	// not shared with it (nor with the load generator).
	originHostPort, originCPU, stopOrigin, err := startOrigin()
	if err != nil {
		return err
	}
	defer stopOrigin()
	originURL := "http://" + originHostPort

	gwURL, stopGW, err := startGateway(originURL)
	if err != nil {
		return err
	}
	defer stopGW()

	targets := []target{{name: "direct", url: originURL + "/bench"}}
	if nginxBin != "" {
		nginxURL, cpu, stop, err := startNginx(nginxBin, originHostPort)
		if err != nil {
			return fmt.Errorf("nginx: %w", err)
		}
		defer stop()
		targets = append(targets, target{name: "nginx", url: nginxURL + "/bench", cpu: cpu})
	}
	rpURL, stopRP, err := startReverseProxy(originURL)
	if err != nil {
		return err
	}
	defer stopRP()
	// The bare standard-library reverse proxy shows what any net/http-based
	// proxy costs on this machine: the floor backline's own work sits on.
	targets = append(targets,
		target{name: "go-rproxy", url: rpURL + "/bench", cpu: selfCPU},
		target{name: "backline", url: gwURL + "/bench", cpu: selfCPU})

	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		profiled := targets[len(targets)-1]
		r, err := withProfile(f, func() (result, error) { return measure(profiled.url, conns, duration) })
		if err != nil {
			return err
		}
		fmt.Printf("profiled backline run: %.0f req/s\n", r.rps())
		return nil
	}
	// Rounds interleave the targets so a neighbour's burst of load hits
	// them all alike; the median of the rounds is reported.
	runs := map[string][]measured{}
	for round := 0; round < rounds; round++ {
		for _, tg := range targets {
			m, err := tg.measure(conns, duration, originCPU)
			if err != nil {
				return fmt.Errorf("%s: %w", tg.name, err)
			}
			runs[tg.name] = append(runs[tg.name], m)
		}
	}
	fmt.Printf("%d rounds of %s, %d connections; medians:\n", rounds, duration, conns)
	med := map[string]measured{}
	for _, tg := range targets {
		m := median(runs[tg.name])
		med[tg.name] = m
		cpu := "-"
		if m.cpuPerReq > 0 {
			cpu = fmt.Sprintf("%.1f µs", float64(m.cpuPerReq.Nanoseconds())/1000)
		}
		fmt.Printf("%-9s %9.0f req/s  p50 %8s  p99 %8s  proxy CPU/req %9s  origin CPU/req %5.1f µs  errors %d\n", tg.name, m.rps,
			m.p50.Round(time.Microsecond), m.p99.Round(time.Microsecond), cpu,
			float64(m.originCPUPerReq.Nanoseconds())/1000, m.errors)
	}
	direct, bl := med["direct"], med["backline"]
	fmt.Printf("backline/direct throughput ratio: %.2f (target >= 0.40)\n", bl.rps/direct.rps)
	fmt.Printf("backline/go-rproxy throughput ratio: %.2f\n", bl.rps/med["go-rproxy"].rps)
	if ng, ok := med["nginx"]; ok {
		fmt.Printf("backline/nginx  throughput ratio: %.2f (target >= 0.80)\n", bl.rps/ng.rps)
		fmt.Printf("p99 backline/nginx: %.2f\n", float64(bl.p99)/float64(ng.p99))
		fmt.Printf("proxy CPU per request backline/nginx: %.2f\n", float64(bl.cpuPerReq)/float64(ng.cpuPerReq))
	}
	return nil
}

var (
	// cpuProfile, when set, profiles this process while backline is measured.
	cpuProfile string
	rounds     int
)

// target is one way to the origin, with the CPU meter of the proxy on it.
type target struct {
	name, url string
	cpu       cpuMeter // nil: nothing in between
}

// measured is one round against one target.
type measured struct {
	rps       float64
	p50, p99  time.Duration
	cpuPerReq time.Duration
	// originCPUPerReq is the Go origin's cost: a bare net/http server.
	originCPUPerReq time.Duration
	errors          int
}

func (t target) measure(conns int, duration time.Duration, originCPU cpuMeter) (measured, error) {
	var before time.Duration
	if t.cpu != nil {
		before = t.cpu()
	}
	originBefore := originCPU()
	r, err := measure(t.url, conns, duration)
	if err != nil {
		return measured{}, err
	}
	m := measured{rps: r.rps(), p50: r.P50, p99: r.P99, errors: r.Errors}
	// The load generator's warm-up requests count too.
	if n := time.Duration(r.Requests + r.WarmupRequests); n > 0 {
		if t.cpu != nil {
			m.cpuPerReq = (t.cpu() - before) / n
		}
		m.originCPUPerReq = (originCPU() - originBefore) / n
	}
	return m, nil
}

// median takes each figure's median over the rounds separately.
func median(ms []measured) measured {
	pick := func(get func(measured) float64) float64 {
		v := make([]float64, len(ms))
		for i, m := range ms {
			v[i] = get(m)
		}
		sort.Float64s(v)
		return v[len(v)/2]
	}
	errs := 0
	for _, m := range ms {
		errs += m.errors
	}
	return measured{
		rps:             pick(func(m measured) float64 { return m.rps }),
		p50:             time.Duration(pick(func(m measured) float64 { return float64(m.p50) })),
		p99:             time.Duration(pick(func(m measured) float64 { return float64(m.p99) })),
		cpuPerReq:       time.Duration(pick(func(m measured) float64 { return float64(m.cpuPerReq) })),
		originCPUPerReq: time.Duration(pick(func(m measured) float64 { return float64(m.originCPUPerReq) })),
		errors:          errs,
	}
}

func withProfile(f *os.File, run func() (result, error)) (result, error) {
	if err := pprof.StartCPUProfile(f); err != nil {
		return result{}, err
	}
	defer pprof.StopCPUProfile()
	return run()
}

func listen() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

func startGateway(originURL string) (string, func(), error) {
	ln, err := listen()
	if err != nil {
		return "", nil, err
	}
	cfg, err := config.Parse([]byte(fmt.Sprintf(`definitions:
  backends:
    origin:
      origin: %s
gateway:
  address: %s
  endpoints:
    - path: /bench
      proxy:
        backend: origin
`, originURL, ln.Addr())))
	if err != nil {
		return "", nil, err
	}
	gw, err := gateway.New(gateway.Options{Config: cfg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return "", nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = gw.ServeListener(ctx, ln); close(done) }()
	return "http://" + ln.Addr().String(), func() { cancel(); <-done }, nil
}

// startReverseProxy serves httputil.ReverseProxy with a keep-alive pool
// sized like backline's, in this process as the gateway is.
func startReverseProxy(originURL string) (string, func(), error) {
	ln, err := listen()
	if err != nil {
		return "", nil, err
	}
	u, err := url.Parse(originURL)
	if err != nil {
		return "", nil, err
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second}
	srv := &http.Server{Handler: rp}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = srv.Close() }, nil
}

const nginxConf = `worker_processes 2;
daemon off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  upstream origin { server %[2]s; keepalive 64; }
  server {
    listen %[3]s;
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`

func startNginx(bin, originAddr string) (string, cpuMeter, func(), error) {
	dir, err := os.MkdirTemp("", "backline-bench-nginx-")
	if err != nil {
		return "", nil, nil, err
	}
	ln, err := listen()
	if err != nil {
		return "", nil, nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(nginxConf, dir, originAddr, addr)), 0o644); err != nil {
		return "", nil, nil, err
	}
	cmd := exec.Command(bin, "-p", dir, "-c", conf)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return "", nil, nil, err
	}
	stop := func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		_ = os.RemoveAll(dir)
	}
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return "http://" + addr, treeCPU(cmd.Process.Pid), stop, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	return "", nil, nil, fmt.Errorf("nginx did not start on %s", addr)
}

func serveOrigin(addr string) {
	body := []byte("hello from the origin\n")
	log.Fatal(http.ListenAndServe(addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(body)
	})))
}

// startOrigin re-executes this binary as the origin server.
func startOrigin() (string, cpuMeter, func(), error) {
	ln, err := listen()
	if err != nil {
		return "", nil, nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	self, err := os.Executable()
	if err != nil {
		return "", nil, nil, err
	}
	cmd := exec.Command(self, "-origin", addr)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return "", nil, nil, err
	}
	stop := func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr, treeCPU(cmd.Process.Pid), stop, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	return "", nil, nil, fmt.Errorf("origin did not start on %s", addr)
}

// measure re-executes this binary as the load generator and reads its result.
func measure(url string, conns int, duration time.Duration) (result, error) {
	self, err := os.Executable()
	if err != nil {
		return result{}, err
	}
	cmd := exec.Command(self, "-loadgen", url, "-connections", fmt.Sprint(conns), "-duration", duration.String())
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return result{}, err
	}
	var r result
	if err := json.Unmarshal(out, &r); err != nil {
		return result{}, fmt.Errorf("load generator output %q: %w", strings.TrimSpace(string(out)), err)
	}
	return r, nil
}

// runLoad keeps conns connections busy for duration and prints a result.
func runLoad(url string, conns int, duration time.Duration) {
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true}
	client := &http.Client{Transport: tr}
	// A short warm-up opens the connections before the clock starts.
	warm := time.Now().Add(300 * time.Millisecond)
	deadline := warm.Add(duration)
	var mu sync.Mutex
	var all []time.Duration
	errors, warmed := 0, 0
	var wg sync.WaitGroup
	for i := 0; i < conns; i++ {
		wg.Go(func() {
			lat := make([]time.Duration, 0, 1<<16)
			errs, warmups := 0, 0
			for {
				start := time.Now()
				if !start.Before(deadline) {
					break
				}
				resp, err := client.Get(url)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				if start.Before(warm) {
					warmups++
					continue
				}
				if err != nil {
					errs++
					continue
				}
				lat = append(lat, time.Since(start))
			}
			mu.Lock()
			all = append(all, lat...)
			errors += errs
			warmed += warmups
			mu.Unlock()
		})
	}
	wg.Wait()
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	r := result{Requests: len(all), WarmupRequests: warmed, Errors: errors, Elapsed: duration}
	if len(all) > 0 {
		r.P50 = all[len(all)/2]
		r.P99 = all[len(all)*99/100]
	}
	_ = json.NewEncoder(os.Stdout).Encode(r)
}
