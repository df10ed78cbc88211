// Command authload load-tests /api/v1/auth/nginx against a bare net/http
// handler that sends the same headers, with the same load generator in the
// same run, and prints the uncached cost of one password check per scheme.
//
// -mode inprocess (the default) runs both servers and a Go load generator
// in this process. -mode wrk measures as users do (wrk.go): the built
// backline binary and a bare handler (bench/authload/bare) as separate
// processes pinned to one core, Debian's wrk pinned to another.
//
// The auth path under test: passwd-file users answered from the positive
// cache, one Lua filter picking one of 10 healthy targets by a hash of the
// user name, a log line per request (formatted, then discarded).
//
//	go run ./bench/authload -duration 5s -concurrency 32
//	go run ./bench/authload -mode wrk -duration 3s -filters 1,5 -conns 16,64 -rounds 3
//	go run ./bench/authload -mode redis -duration 3s -conns 16,64 -rounds 3 [-context]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/backline/backline/bench/internal/wrkbench"
	"github.com/backline/backline/internal/auth"
	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/lua"
	"github.com/backline/backline/internal/probe"
)

const filterScript = `
local nauthilus_backend = require("nauthilus_backend")

function nauthilus_call_filter(request)
    local servers = nauthilus_backend.get_backend_servers()
    if #servers == 0 then
        return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
    end
    local h = 0
    for i = 1, #request.username do
        h = (h * 31 + string.byte(request.username, i)) % 2147483647
    end
    local s = servers[(h % #servers) + 1]
    nauthilus_backend.select_backend_server(s.host, s.port)
    return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end
`

type staticHealth struct{ snap *health.Snapshot }

func (s staticHealth) Snapshot() *health.Snapshot { return s.snap }

func main() {
	duration := flag.Duration("duration", 5*time.Second, "length of each load phase")
	concurrency := flag.Int("concurrency", 32, "concurrent keep-alive clients")
	users := flag.Int("users", 1000, "distinct users in the passwd-file")
	mode := flag.String("mode", "inprocess", "inprocess | wrk | redis (redis_compare.go)")
	withContext := flag.Bool("context", false, "redis mode: the filter also sets and gets a nauthilus_context value")
	redisServer := flag.String("redis-server", "redis-server", "redis mode: the redis-server binary")
	var wo wrkOptions
	flag.StringVar(&wo.backline, "backline", "", "wrk mode: backline binary (default: go build ./cmd/backline)")
	flag.StringVar(&wo.bare, "bare", "", "wrk mode: bare handler binary (default: go build ./bench/authload/bare)")
	flag.StringVar(&wo.wrk, "wrk", "/usr/bin/wrk", "wrk mode: the wrk binary")
	filters := flag.String("filters", "1,5", "wrk mode: filter counts to measure")
	conns := flag.String("conns", "16,64", "wrk mode: wrk connection counts")
	flag.IntVar(&wo.rounds, "rounds", 3, "wrk mode: interleaved rounds per point")
	flag.IntVar(&wo.serverCPU, "server-cpu", 0, "wrk mode: CPU the servers are pinned to")
	flag.IntVar(&wo.wrkCPU, "wrk-cpu", 1, "wrk mode: CPU wrk is pinned to")
	flag.StringVar(&wo.logLevel, "log-level", "info", "wrk mode: backline's server.log_level")
	flag.BoolVar(&wo.keep, "keep", false, "wrk mode: keep the temporary directory (configs, binaries)")
	flag.Parse()
	if *mode == "wrk" || *mode == "redis" {
		wrkbench.NeedTools(wo.wrk, "taskset")
		wo.duration = *duration
		wo.filters, wo.conns = intList("-filters", *filters, 1, 50), intList("-conns", *conns, 1, 1024)
		if *duration <= 0 || *duration > 5*time.Minute || wo.rounds < 1 || wo.rounds > 20 {
			log.Fatal("authload: -duration must be in (0,5m], -rounds in [1,20]")
		}
		if *mode == "redis" {
			runRedisCompare(wo, *withContext, *redisServer)
			return
		}
		runWrkMode(wo)
		return
	}
	if *mode != "inprocess" {
		log.Fatalf("authload: unknown -mode %q (inprocess, wrk)", *mode)
	}
	if *duration <= 0 || *duration > 5*time.Minute || *concurrency < 1 || *concurrency > 1024 || *users < 1 || *users > 1000000 {
		log.Fatal("authload: -duration must be in (0,5m], -concurrency in [1,1024], -users in [1,1000000]")
	}
	fmt.Printf("authload: GOMAXPROCS=%d concurrency=%d duration=%s users=%d\n\n",
		runtime.GOMAXPROCS(0), *concurrency, *duration, *users)

	dir, err := os.MkdirTemp("", "authload")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	authURL, stopAuth := startAuth(dir, *users)
	defer stopAuth()
	bareURL, stopBare := startServer(http.HandlerFunc(bareHandler))
	defer stopBare()

	// Fill the positive cache, and check the answer is what nginx needs.
	warm := newClient(*concurrency)
	for i := range *users {
		resp, err := warm.Do(newRequest(authURL, i))
		if err != nil {
			log.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.Header.Get("Auth-Status") != "OK" || resp.Header.Get("Auth-Server") == "" {
			log.Fatalf("warm-up: unexpected answer %v", resp.Header)
		}
	}

	bare := runLoad(bareURL, *users, *concurrency, *duration)
	authRes := runLoad(authURL, *users, *concurrency, *duration)
	fmt.Printf("%-34s %12s %10s %10s %8s\n", "endpoint", "req/s", "p50", "p99", "errors")
	bare.print("bare net/http handler (baseline)")
	authRes.print("/api/v1/auth/nginx (cache + Lua)")
	fmt.Printf("\nratio auth/bare: %.2f (target >= 0.50); absolute target >= 20000 req/s\n\n", authRes.rps/bare.rps)

	schemeCosts()
}

// intList parses "1,5" with each value in [lo, hi].
func intList(flagName, s string, lo, hi int) []int {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < lo || n > hi {
			log.Fatalf("authload: %s: %q is not a number in [%d,%d]", flagName, f, lo, hi)
		}
		out = append(out, n)
	}
	return out
}

func startAuth(dir string, users int) (string, func()) {
	var lines []string
	for i := range users {
		lines = append(lines, fmt.Sprintf("user%d:{PLAIN}password-%d", i, i))
	}
	passwd := filepath.Join(dir, "passwd")
	script := filepath.Join(dir, "route.lua")
	if err := os.WriteFile(passwd, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(script, []byte(filterScript), 0o600); err != nil {
		log.Fatal(err)
	}
	var backends []health.Backend
	for i := range 10 {
		backends = append(backends, health.BackendFor(health.GroupMail,
			&probe.Target{Name: fmt.Sprintf("imap-%d", i), Protocol: "imap", Host: fmt.Sprintf("10.0.0.%d", i+1), Port: 143}, true))
	}
	src := staticHealth{&health.Snapshot{Backends: backends}}

	cfg := &config.Config{}
	cfg.Auth.Passdb = []config.Passdb{{Type: config.PassdbPasswdFile, Path: passwd}}
	cfg.Lua.Filters = []config.LuaFilter{{Name: "route", ScriptPath: script}}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	engine, err := lua.NewEngine(lua.Options{Config: cfg.Lua, Health: src, Logger: logger})
	if err != nil {
		log.Fatal(err)
	}
	h, err := auth.New(auth.Options{Config: cfg, Lua: engine, Health: src, Logger: logger})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Register(mux)
	url, stop := startServer(mux)
	return url + "/api/v1/auth/nginx", func() { stop(); engine.Close() }
}

// bareHandler sends what a successful nginx answer carries, nothing more.
func bareHandler(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("X-Nauthilus-Session", "2ZxTy8v3MbQ0cLkP9hJ1sA4dE7f")
	hdr.Set("Auth-Status", "OK")
	hdr.Set("Auth-User", r.Header.Get("Auth-User"))
	hdr.Set("X-Nauthilus-Memory-Cache", "Hit")
	hdr.Set("Auth-Server", "10.0.0.1")
	hdr.Set("Auth-Port", "143")
	w.WriteHeader(http.StatusOK)
}

func startServer(h http.Handler) (string, func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Print(err)
		}
	}()
	return "http://" + ln.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}
}

func newClient(concurrency int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		MaxIdleConns: concurrency, MaxIdleConnsPerHost: concurrency, IdleConnTimeout: time.Minute,
	}, Timeout: 10 * time.Second}
}

func newRequest(url string, i int) *http.Request {
	r, _ := http.NewRequest(http.MethodGet, url, nil)
	r.Header.Set("Auth-Method", "plain")
	r.Header.Set("Auth-User", fmt.Sprintf("user%d", i))
	r.Header.Set("Auth-Pass", fmt.Sprintf("password-%d", i))
	r.Header.Set("Auth-Protocol", "imap")
	r.Header.Set("Auth-Login-Attempt", "1")
	r.Header.Set("Client-IP", "192.0.2.1")
	return r
}

type result struct {
	rps      float64
	p50, p99 time.Duration
	errors   int
}

func (r result) print(name string) {
	fmt.Printf("%-34s %12.0f %10s %10s %8d\n", name, r.rps, r.p50.Round(time.Microsecond), r.p99.Round(time.Microsecond), r.errors)
}

// runLoad keeps concurrency clients busy for d, each over keep-alive.
func runLoad(url string, users, concurrency int, d time.Duration) result {
	client := newClient(concurrency)
	defer client.CloseIdleConnections()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		all      []time.Duration
		failures int
	)
	start := time.Now()
	deadline := start.Add(d)
	for w := range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, 1<<16)
			errs := 0
			for i := w; time.Now().Before(deadline); i += concurrency {
				t0 := time.Now()
				resp, err := client.Do(newRequest(url, i%users))
				if err != nil {
					errs++
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || resp.Header.Get("Auth-Status") != "OK" {
					errs++
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			all = append(all, lat...)
			failures += errs
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	res := result{rps: float64(len(all)) / elapsed.Seconds(), errors: failures}
	if len(all) > 0 {
		res.p50 = all[len(all)/2]
		res.p99 = all[len(all)*99/100]
	}
	return res
}

// schemeCosts times one uncached password check per scheme.
func schemeCosts() {
	blf5, _ := bcrypt.GenerateFromPassword([]byte("Hello world!"), 5)
	blf10, _ := bcrypt.GenerateFromPassword([]byte("Hello world!"), 10)
	schemes := []struct{ name, field, password string }{
		{"PLAIN", "{PLAIN}Hello world!", "Hello world!"},
		{"SHA512-CRYPT (5000 rounds)", "{SHA512-CRYPT}$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1", "Hello world!"},
		{"SHA256-CRYPT (5000 rounds)", "{SHA256-CRYPT}$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5", "Hello world!"},
		{"BLF-CRYPT cost 5 (doveadm default)", "{BLF-CRYPT}" + string(blf5), "Hello world!"},
		{"BLF-CRYPT cost 10", "{BLF-CRYPT}" + string(blf10), "Hello world!"},
		{"ARGON2ID m=64MiB t=3 p=1 (doveadm)", "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$lldyQF3FzOs3LLgIsd83GQ$ozpYC6EnnTRtBZbwF1ZsXisNJsoFfE/aV8Po0bmRh8s", "test"},
	}
	fmt.Printf("%-36s %14s %12s %10s\n", "uncached check", "per check", "checks/s/core", "x PLAIN")
	var plain time.Duration
	for _, s := range schemes {
		per := timeCheck(s.field, s.password)
		if plain == 0 {
			plain = per
		}
		fmt.Printf("%-36s %14s %12.0f %10.0f\n", s.name, per.Round(100*time.Nanosecond), float64(time.Second)/float64(per), float64(per)/float64(plain))
	}
}

// timeCheck runs checks for about 300ms (at least 3) and returns the mean.
func timeCheck(field, password string) time.Duration {
	n := 0
	start := time.Now()
	for n < 3 || time.Since(start) < 300*time.Millisecond {
		ok, err := auth.VerifyPasswordField(field, password)
		if err != nil || !ok {
			log.Fatalf("check %s: %v %v", field, ok, err)
		}
		n++
	}
	return time.Since(start) / time.Duration(n)
}
