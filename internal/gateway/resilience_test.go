package gateway

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/probe"
)

// waitFor polls cond; the bound only keeps a broken test from hanging.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 2000; i++ {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("gave up waiting for %s", what)
}

// blockingOrigin holds every request until its context ends or release is closed.
type blockingOrigin struct {
	*httptest.Server
	hits    atomic.Int64
	release chan struct{}
	once    sync.Once
}

func (o *blockingOrigin) releaseAll() { o.once.Do(func() { close(o.release) }) }

func newBlockingOrigin(t *testing.T, headersFirst bool) *blockingOrigin {
	o := &blockingOrigin{release: make(chan struct{})}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.hits.Add(1)
		if headersFirst {
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte("first-chunk;"))
			http.NewResponseController(w).Flush()
		}
		select {
		case <-r.Context().Done():
		case <-o.release:
		}
		_, _ = w.Write([]byte("done"))
	}))
	t.Cleanup(func() {
		o.releaseAll()
		o.Close()
	})
	return o
}

func TestConnectTimeoutIsBackendError(t *testing.T) {
	blackhole := func(ctx context.Context, network, addr string) (net.Conn, error) {
		<-ctx.Done() // a SYN nobody answers
		return nil, ctx.Err()
	}
	h := newHarness(t, gatewayYAML("http://127.0.0.1:9", "      connect_timeout: 50ms\n",
		"    - path: /x\n      proxy:\n        backend: api\n"), func(o *Options) { o.Dial = blackhole })
	resp, body := h.do(http.MethodGet, "/x", nil, nil)
	expectError(t, resp, body, 502, "backend")
	if !strings.Contains(h.logs.String(), `connecting to api '127.0.0.1:9' failed`) {
		t.Fatalf("log lacks the cause: %s", h.logs.String())
	}
	if strings.Contains(body, "127.0.0.1") {
		t.Fatalf("client sees the cause: %s", body)
	}
}

func TestConnectionRefusedIsBackendError(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	h := newHarness(t, gatewayYAML("http://"+addr, "", "    - path: /x\n      proxy:\n        backend: api\n"))
	resp, body := h.do(http.MethodGet, "/x", nil, nil)
	expectError(t, resp, body, 502, "backend")
}

func TestTTFBTimeout(t *testing.T) {
	o := newBlockingOrigin(t, false)
	h := newHarness(t, gatewayYAML(o.URL, "      ttfb_timeout: 50ms\n", "    - path: /x\n      proxy:\n        backend: api\n"))
	resp, body := h.do(http.MethodGet, "/x", nil, nil)
	expectError(t, resp, body, 504, "backend_timeout")
	if !strings.Contains(h.logs.String(), "timeout awaiting response headers") {
		t.Fatalf("log: %s", h.logs.String())
	}
}

func TestTotalTimeoutBeforeHeaders(t *testing.T) {
	o := newBlockingOrigin(t, false)
	h := newHarness(t, gatewayYAML(o.URL, "      timeout: 50ms\n      ttfb_timeout: 0s\n", "    - path: /x\n      proxy:\n        backend: api\n"))
	resp, body := h.do(http.MethodGet, "/x", nil, nil)
	expectError(t, resp, body, 504, "backend_timeout")
	if !strings.Contains(h.logs.String(), "deadline exceeded") {
		t.Fatalf("log: %s", h.logs.String())
	}
}

func TestTotalTimeoutCutsTheBody(t *testing.T) {
	o := newBlockingOrigin(t, true)
	// The head and first chunk must arrive within the timeout: 1 s (was
	// 100 ms, which a loaded machine could spend before the origin wrote).
	h := newHarness(t, gatewayYAML(o.URL, "      timeout: 1s\n", "    - path: /x\n      proxy:\n        backend: api\n"))
	resp, body := h.do(http.MethodGet, "/x", nil, nil)
	if resp.StatusCode != 200 || body != "first-chunk;" {
		t.Fatalf("status %d body %q", resp.StatusCode, body)
	}
	waitFor(t, "the cut-off log line", func() bool { return strings.Contains(h.logs.String(), "response body cut off") })
}

// fakeHealth is a health.Source with a fixed verdict per group.
type fakeHealth struct{ healthy map[string]bool }

func (f *fakeHealth) Snapshot() *health.Snapshot {
	s := &health.Snapshot{}
	for g, ok := range f.healthy {
		s.Backends = append(s.Backends, health.BackendFor(g, &probe.Target{Name: g}, ok))
	}
	return s
}

func TestUnhealthyBackend(t *testing.T) {
	o := newEcho(t)
	var hits atomic.Int64
	counting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		echoHandler(w, r)
	}))
	defer counting.Close()
	_ = o
	h := newHarness(t, gatewayYAML(counting.URL, "      beta_health:\n        path: /health\n", `    - path: /x
      proxy:
        backend: api
    - path: /anyway
      proxy:
        backend:
          label: api
          use_when_unhealthy: true
`), func(opts *Options) { opts.Health = &fakeHealth{healthy: map[string]bool{"gateway:api": false}} })
	resp, body := h.do(http.MethodGet, "/x", nil, nil)
	expectError(t, resp, body, 502, "backend_unhealthy")
	if hits.Load() != 0 {
		t.Fatalf("origin contacted %d times while unhealthy", hits.Load())
	}
	h.echo("/anyway", nil)
	if hits.Load() != 1 {
		t.Fatalf("use_when_unhealthy: origin hits = %d", hits.Load())
	}
	h.gw.SetHealth(&fakeHealth{healthy: map[string]bool{"gateway:api": true}})
	h.echo("/x", nil)
}

func TestThrottleBlock(t *testing.T) {
	for _, window := range []string{"fixed", "sliding"} {
		t.Run(window, func(t *testing.T) {
			o := newEcho(t)
			h := newHarness(t, gatewayYAML(o.URL, fmt.Sprintf(`      throttle:
        period: 1h
        per_period: 2
        period_window: %s
        mode: block
`, window), "    - path: /x\n      proxy:\n        backend: api\n    - path: /y\n      proxy:\n        backend: api\n"))
			h.echo("/x", nil)
			h.echo("/y", nil) // a second endpoint shares the label's counter
			resp, body := h.do(http.MethodGet, "/x", nil, nil)
			expectError(t, resp, body, 429, "backend_throttle_exceeded")
		})
	}
}

func TestThrottleWaitReleasesEveryRequest(t *testing.T) {
	for _, window := range []string{"fixed", "sliding"} {
		t.Run(window, func(t *testing.T) {
			o := newEcho(t)
			h := newHarness(t, gatewayYAML(o.URL, fmt.Sprintf(`      beta_rate_limit:
        - period: 20ms
          per_period: 1
          period_window: %s
`, window), "    - path: /x\n      proxy:\n        backend: api\n"))
			var wg sync.WaitGroup
			codes := make([]int, 4)
			for i := range codes {
				wg.Go(func() {
					resp, _ := h.do(http.MethodGet, "/x", nil, nil)
					codes[i] = resp.StatusCode
				})
			}
			wg.Wait()
			for i, c := range codes {
				if c != 200 {
					t.Fatalf("request %d: %d", i, c)
				}
			}
		})
	}
}

func TestThrottleQueuedClientLeaves(t *testing.T) {
	var hits atomic.Int64
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer o.Close()
	h := newHarness(t, gatewayYAML(o.URL, "      throttle:\n        period: 1h\n        per_period: 1\n", "    - path: /x\n      proxy:\n        backend: api\n"))
	if resp, _ := h.do(http.MethodGet, "/x", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("first request: %d", resp.StatusCode)
	}
	rt := h.gw.backends["api"]
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.srv.URL+"/x", nil)
		resp, err := h.client.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	waitFor(t, "the request to queue", func() bool { return rt.throttleQueued.Load() == 1 })
	cancel()
	if err := <-done; err == nil {
		t.Fatal("queued request returned a response")
	}
	waitFor(t, "the queue to empty", func() bool { return rt.throttleQueued.Load() == 0 })
	if hits.Load() != 1 {
		t.Fatalf("origin hits = %d", hits.Load())
	}
}

func TestMaxConnectionsSharedAcrossEndpoints(t *testing.T) {
	var mu sync.Mutex
	remotes := map[string]int{}
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		remotes[r.RemoteAddr]++
		mu.Unlock()
		_, _ = w.Write([]byte("ok"))
	}))
	defer o.Close()
	h := newHarness(t, gatewayYAML(o.URL, "      max_connections: 1\n", `    - path: /a
      proxy:
        backend: api
    - path: /b
      proxy:
        backend: api
    - path: /c
      proxy:
        backend:
          label: api
          path: /refined
`))
	var wg sync.WaitGroup
	for round := 0; round < 3; round++ {
		for _, p := range []string{"/a", "/b", "/c"} {
			wg.Go(func() {
				if resp, body := h.do(http.MethodGet, p, nil, nil); resp.StatusCode != 200 || body != "ok" {
					t.Errorf("%s: %d %s", p, resp.StatusCode, body)
				}
			})
		}
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(remotes) != 1 {
		t.Fatalf("origin saw %d connections, want 1: %v", len(remotes), remotes)
	}
	if open := h.gw.backends["api"].transports.conns.open.Load(); open != 1 {
		t.Fatalf("open connections = %d", open)
	}
}

func TestConnectionReuse(t *testing.T) {
	for _, c := range []struct {
		attr string
		want int
	}{{"", 1}, {"      disable_connection_reuse: true\n", 3}} {
		var mu sync.Mutex
		remotes := map[string]bool{}
		o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			remotes[r.RemoteAddr] = true
			mu.Unlock()
		}))
		h := newHarness(t, gatewayYAML(o.URL, c.attr, "    - path: /x\n      proxy:\n        backend: api\n"))
		for i := 0; i < 3; i++ {
			h.do(http.MethodGet, "/x", nil, nil)
		}
		o.Close()
		if len(remotes) != c.want {
			t.Fatalf("%q: %d connections, want %d", c.attr, len(remotes), c.want)
		}
	}
}

func TestQueuedClientLeavesConnectionQueue(t *testing.T) {
	o := newBlockingOrigin(t, false)
	h := newHarness(t, gatewayYAML(o.URL, "      max_connections: 1\n", "    - path: /x\n      proxy:\n        backend: api\n"))
	first := make(chan int, 1)
	go func() {
		resp, _ := h.do(http.MethodGet, "/x", nil, nil)
		first <- resp.StatusCode
	}()
	waitFor(t, "the first request at the origin", func() bool { return o.hits.Load() == 1 })

	rt := h.gw.backends["api"]
	ctx, cancel := context.WithCancel(context.Background())
	second := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.srv.URL+"/x", nil)
		resp, err := h.client.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		second <- err
	}()
	waitFor(t, "the second request to queue", func() bool { return rt.slots.queued() == 1 })
	if got := metricSum(t, h, "backline_gateway_queue_length", "", ""); got != 1 {
		t.Fatalf("queue gauge = %v", got)
	}
	cancel()
	if err := <-second; err == nil {
		t.Fatal("queued request got a response")
	}
	waitFor(t, "the queue to empty", func() bool { return rt.slots.queued() == 0 })
	if got := metricSum(t, h, "backline_gateway_queue_length", "", ""); got != 0 {
		t.Fatalf("queue gauge = %v", got)
	}
	o.releaseAll()
	if code := <-first; code != 200 {
		t.Fatalf("first request: %d", code)
	}
	if o.hits.Load() != 1 {
		t.Fatalf("origin saw the cancelled request: hits %d", o.hits.Load())
	}
	// The slot is free again.
	if resp, _ := h.do(http.MethodGet, "/x", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("after release: %d", resp.StatusCode)
	}
}

func TestForwardProxyAttribute(t *testing.T) {
	var seen atomic.Value
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.RequestURI)
		_, _ = w.Write([]byte("via-proxy"))
	}))
	defer proxy.Close()
	h := newHarness(t, gatewayYAML("http://origin.example:8080", "      proxy: "+proxy.URL+"\n", "    - path: /x\n      proxy:\n        backend: api\n"))
	resp, body := h.do(http.MethodGet, "/x?a=1", nil, nil)
	if resp.StatusCode != 200 || body != "via-proxy" || seen.Load() != "http://origin.example:8080/x?a=1" {
		t.Fatalf("status %d body %q proxy saw %v", resp.StatusCode, body, seen.Load())
	}
}
