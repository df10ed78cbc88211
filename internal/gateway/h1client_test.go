package gateway

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
)

// rawOrigin is an origin whose every byte a test writes: serve runs per
// connection with its index (from 0) and the requests read so far.
type rawOrigin struct {
	ln    net.Listener
	conns atomic.Int64
	// closed counts connections the origin has closed: a test waits for
	// it instead of sleeping until the origin's FIN or RST has arrived.
	closed atomic.Int64
	mu     sync.Mutex
	reqs   []string // "METHOD /path body" of every request read
	wg     sync.WaitGroup
}

func newRawOrigin(t *testing.T, serve func(o *rawOrigin, c net.Conn, br *bufio.Reader, conn int)) *rawOrigin {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &rawOrigin{ln: ln}
	o.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n := int(o.conns.Add(1)) - 1
			o.wg.Go(func() {
				defer o.closed.Add(1) // runs after c.Close: the FIN or RST is on its way
				defer c.Close()
				serve(o, c, bufio.NewReader(c), n)
			})
		}
	})
	t.Cleanup(func() { ln.Close(); o.wg.Wait() })
	return o
}

// waitClosed waits until the origin has closed n connections. On loopback
// the kernel queues the FIN (or RST) at the client's socket within close,
// so the gateway's peek before reuse sees it.
func (o *rawOrigin) waitClosed(t *testing.T, n int64) {
	t.Helper()
	waitFor(t, fmt.Sprintf("the origin to close %d connection(s)", n), func() bool { return o.closed.Load() >= n })
}

func (o *rawOrigin) url() string { return "http://" + o.ln.Addr().String() }

// read reads one request and records it; false when the peer closed.
func (o *rawOrigin) read(br *bufio.Reader) (*http.Request, bool) {
	r, err := http.ReadRequest(br)
	if err != nil {
		return nil, false
	}
	body, _ := io.ReadAll(r.Body)
	o.mu.Lock()
	o.reqs = append(o.reqs, strings.TrimSpace(r.Method+" "+r.URL.Path+" "+string(body)))
	o.mu.Unlock()
	return r, true
}

func (o *rawOrigin) requests() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.reqs...)
}

const okResponse = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

// serveOK answers every request of a connection with okResponse.
func serveOK(o *rawOrigin, c net.Conn, br *bufio.Reader, _ int) {
	for {
		if _, ok := o.read(br); !ok {
			return
		}
		_, _ = io.WriteString(c, okResponse)
	}
}

// secondGETSucceeds sends two GETs; between them the origin does what it
// does to the idle connection and closes it (waited for, not slept: a
// loaded machine may run the origin's goroutine late). It wants a 200 for
// the second.
func secondGETSucceeds(t *testing.T, h *harness, o *rawOrigin) {
	t.Helper()
	h.do(http.MethodGet, "/one", nil, nil)
	o.waitClosed(t, 1)
	resp, body := h.do(http.MethodGet, "/two", nil, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("second GET: %d %q; origin saw %q\n%s", resp.StatusCode, body, o.requests(), h.logs.String())
	}
}

func rawHarness(t *testing.T, o *rawOrigin) *harness {
	return newHarness(t, gatewayYAML(o.url(), "", "    - path: /**\n      proxy:\n        backend: api\n"))
}

// An origin that closes a keep-alive connection after one answer, as one
// with a short keep-alive timeout does between two requests.
func closeAfterOne(o *rawOrigin, c net.Conn, br *bufio.Reader, _ int) {
	if _, ok := o.read(br); ok {
		_, _ = io.WriteString(c, okResponse)
	}
}

func TestStaleIdleConnectionRetriesIdempotentRequest(t *testing.T) {
	o := newRawOrigin(t, closeAfterOne)
	h := rawHarness(t, o)
	h.do(http.MethodGet, "/one", nil, nil)
	o.waitClosed(t, 1) // the origin's FIN has arrived
	if resp, body := h.do(http.MethodGet, "/two", nil, nil); resp.StatusCode != 200 || body != "ok" {
		t.Fatalf("second GET: %d %q", resp.StatusCode, body)
	}
	if got := o.requests(); strings.Join(got, ",") != "GET /one,GET /two" {
		t.Fatalf("origin saw %q", got)
	}
}

func TestStaleIdleConnectionIsNotUsedForPOST(t *testing.T) {
	o := newRawOrigin(t, closeAfterOne)
	h := rawHarness(t, o)
	h.do(http.MethodGet, "/one", nil, nil)
	o.waitClosed(t, 1)
	resp, body := h.do(http.MethodPost, "/pay", strings.NewReader("amount=1"), nil)
	if resp.StatusCode != 200 || body != "ok" {
		t.Fatalf("POST: %d %q", resp.StatusCode, body)
	}
	if got := o.requests(); strings.Join(got, ",") != "GET /one,POST /pay amount=1" {
		t.Fatalf("origin saw %q", got)
	}
	if n := o.conns.Load(); n != 2 {
		t.Fatalf("%d connections, want 2", n)
	}
}

// A POST the origin read and then dropped without an answer may have taken
// effect: it is never sent again.
func TestRequestLostAfterReadIsRetriedOnlyWhenIdempotent(t *testing.T) {
	o := newRawOrigin(t, func(o *rawOrigin, c net.Conn, br *bufio.Reader, conn int) {
		if _, ok := o.read(br); !ok || conn > 0 {
			return // every later connection drops its first request
		}
		_, _ = io.WriteString(c, okResponse)
		o.read(br) // the second request on the first connection: dropped
	})
	h := rawHarness(t, o)
	h.do(http.MethodGet, "/warm", nil, nil)
	if resp, _ := h.do(http.MethodPost, "/pay", strings.NewReader("x"), nil); resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("POST: %d, want 502", resp.StatusCode)
	}
	if resp, _ := h.do(http.MethodGet, "/read", nil, nil); resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("GET: %d, want 502", resp.StatusCode)
	}
	want := "GET /warm,POST /pay x,GET /read"
	if got := strings.Join(o.requests(), ","); got != want {
		t.Fatalf("origin saw %q, want %q", got, want)
	}
}

func TestResponseFraming(t *testing.T) {
	o := newRawOrigin(t, func(o *rawOrigin, c net.Conn, br *bufio.Reader, _ int) {
		for {
			r, ok := o.read(br)
			if !ok {
				return
			}
			switch r.URL.Path {
			case "/chunked":
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
			case "/hints":
				_, _ = io.WriteString(c, "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"+okResponse)
			case "/head":
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")
			case "/until-close":
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\n\r\nall of it")
				return
			case "/close":
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
				return
			}
		}
	})
	h := rawHarness(t, o)
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/chunked", "abcde"}, {"GET", "/hints", "ok"}, {"HEAD", "/head", ""},
		{"GET", "/chunked", "abcde"}, {"GET", "/until-close", "all of it"},
		{"GET", "/chunked", "abcde"}, {"GET", "/close", "ok"}, {"GET", "/chunked", "abcde"},
	} {
		resp, body := h.do(c.method, c.path, nil, nil)
		if resp.StatusCode != 200 || body != c.body {
			t.Fatalf("%s %s: %d %q, want %q", c.method, c.path, resp.StatusCode, body, c.body)
		}
	}
	// The first connection carries the first four requests; the bodies
	// that ended with the connection take it with them.
	if n := o.conns.Load(); n != 3 {
		t.Fatalf("%d connections, want 3", n)
	}
}

func TestExpectContinueIsNotForwarded(t *testing.T) {
	o := newEcho(t)
	h := newHarness(t, gatewayYAML(o.URL, "", "    - path: /**\n      proxy:\n        backend: api\n"))
	resp, body := h.do(http.MethodPut, "/up", strings.NewReader("payload"), map[string]string{"Expect": "100-continue"})
	if resp.StatusCode != 200 || strings.Contains(body, "Expect") || !strings.Contains(body, `"body":"payload"`) {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
}

func TestH2CPriorKnowledge(t *testing.T) {
	o := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Proto)
	}))
	o.Config.Protocols = new(http.Protocols)
	o.Config.Protocols.SetHTTP1(true)
	o.Config.Protocols.SetUnencryptedHTTP2(true)
	o.Start()
	t.Cleanup(o.Close)
	h := newHarness(t, gatewayYAML(o.URL, "      http2_prior_knowledge: true\n", `    - path: /h2c
      proxy:
        backend: api
    - path: /h1
      proxy:
        backend:
          origin: `+o.URL+`
`))
	if _, body := h.do(http.MethodGet, "/h2c", nil, nil); body != "HTTP/2.0" {
		t.Fatalf("h2c backend: %q", body)
	}
	if _, body := h.do(http.MethodGet, "/h1", nil, nil); body != "HTTP/1.1" {
		t.Fatalf("plain backend: %q", body)
	}
}

// Origins taken from the request must not grow a backend's pools without
// bound: past the cap the least recently used pool goes.
func TestPoolsPerBackendAreCapped(t *testing.T) {
	s, err := newTransportSet("api", &config.Backend{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.proxyFromEnv = func(*http.Request) (*url.URL, error) { return nil, nil }
	key := func(i int) transportKey {
		return transportKey{scheme: "http", hostPort: fmt.Sprintf("127.0.0.%d:80", i+1)}
	}
	setUsed := func(i int, at time.Time) {
		p := s.pools[poolKey{transportKey: key(i)}].(*h1Pool)
		p.mu.Lock()
		p.used = at
		p.mu.Unlock()
	}
	base := time.Now().Add(-time.Hour)
	for i := 0; i < maxPoolsPerBackend; i++ {
		if _, err := s.get(key(i), netip.Addr{}); err != nil {
			t.Fatal(err)
		}
		setUsed(i, base.Add(time.Duration(i)*time.Second))
	}
	setUsed(0, base.Add(30*time.Minute)) // pool 0 was used again lately
	for i := maxPoolsPerBackend; i < maxPoolsPerBackend+6; i++ {
		if _, err := s.get(key(i), netip.Addr{}); err != nil {
			t.Fatal(err)
		}
	}
	if len(s.pools) != maxPoolsPerBackend {
		t.Fatalf("%d pools, want %d", len(s.pools), maxPoolsPerBackend)
	}
	if _, ok := s.pools[poolKey{transportKey: key(0)}]; !ok {
		t.Fatal("the recently used pool was dropped")
	}
	for i := 1; i <= 6; i++ {
		if _, ok := s.pools[poolKey{transportKey: key(i)}]; ok {
			t.Fatalf("pool %d, among the least recently used, is still there", i)
		}
	}
}

// Two url-only endpoints get two anonymous backends with distinct names:
// equal names made the connections metric collide and /metrics fail.
func TestAnonymousBackendsHaveDistinctNames(t *testing.T) {
	o := newEcho(t)
	h := newHarness(t, gatewayYAML(o.URL, "", `    - path: /a
      proxy:
        url: `+o.URL+`/a
    - path: /b
      proxy:
        url: `+o.URL+`/b
`))
	h.do(http.MethodGet, "/a", nil, nil)
	h.do(http.MethodGet, "/b", nil, nil)
	if _, err := h.reg.Gather(); err != nil {
		t.Fatalf("metrics: %v", err)
	}
	var names []string
	for _, rt := range h.gw.runtimes {
		names = append(names, rt.name)
	}
	// Named after each endpoint's path (the api label comes first).
	if got := strings.Join(names, ","); got != "api,anonymous_a,anonymous_b" {
		t.Fatalf("backends %s", got)
	}
}
