package gateway

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
)

// A request that waits on a slow origin gets the background read that
// notices a client leaving; a request pipelined behind it meanwhile is
// read by that read (its first byte) and must still be answered, whole
// and in order.
func TestServerWatchReadKeepsAPipelinedByte(t *testing.T) {
	// 10 ms: let the background read take the byte (the test passes either way).
	checkPipelinedBehindSlow(t, func(yml string) *harness { return newHarness(t, yml) },
		&serverWatchReads, "the background read never started", 10*time.Millisecond)
}

// checkPipelinedBehindSlow sends a request the origin holds, waits until
// the server's read behind it has started (started moves), pipelines a
// second request, waits settle, releases the first, and expects both
// answers whole and in order.
func checkPipelinedBehindSlow(t *testing.T, serve func(yml string) *harness, started *atomic.Int64, never string, settle time.Duration) {
	t.Helper()
	release := make(chan struct{})
	origin := newEchoWith(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
		_, _ = io.WriteString(w, "answer "+r.URL.Path)
	}))
	h := serve(gatewayYAML(origin, "", "    - path: /**\n      proxy:\n        backend: api\n"))
	conn := h.dialRaw(t)
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second)) // a hang fails the test
	before := started.Load()
	if _, err := io.WriteString(conn, "GET /slow HTTP/1.1\r\nHost: gw.test\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	for i := 0; started.Load() == before; i++ {
		if i == 10000 {
			close(release)
			t.Fatal(never)
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := io.WriteString(conn, "GET /next HTTP/1.1\r\nHost: gw.test\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(settle)
	close(release)
	br := bufio.NewReader(conn)
	for _, want := range []string{"answer /slow", "answer /next"} {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != want {
			t.Fatalf("got %d %q, want %q", resp.StatusCode, body, want)
		}
	}
}

// A client that leaves while its request waits on a slow origin ends the
// request: the origin exchange is woken and its connection closed, which
// the origin sees as its request's end.
func TestServerNoticesAClientLeaving(t *testing.T) {
	originDone := make(chan struct{})
	origin := newEchoWith(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
		close(originDone)
	}))
	h := newHarness(t, gatewayYAML(origin, "", "    - path: /**\n      proxy:\n        backend: api\n"))
	conn := h.dialRaw(t)
	before := serverWatchReads.Load()
	if _, err := io.WriteString(conn, "GET /slow HTTP/1.1\r\nHost: gw.test\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	for i := 0; serverWatchReads.Load() == before; i++ {
		if i == 10000 {
			t.Fatal("the background read never started")
		}
		time.Sleep(time.Millisecond)
	}
	conn.Close()
	select {
	case <-originDone:
	case <-time.After(20 * time.Second): // a bound for a broken build, not a timing claim
		t.Fatal("the client leaving never reached the origin exchange")
	}
}

// gateway.http1_server: net/http serves a plain listener as before: its
// framing scan does not follow chunked bodies, so the connection closes
// after a chunked request, where the own server keeps it.
func TestHTTP1ServerNetHTTPServesThePlainListener(t *testing.T) {
	for _, tc := range []struct {
		server    string
		wantClose bool
	}{{config.HTTP1ServerNetHTTP, true}, {config.HTTP1ServerBackline, false}, {"", false}} {
		o := newRecordingOrigin(t)
		gw, err := New(Options{Config: parseConfig(t, gatewayYAML(o.url, "", "    - path: /api/**\n      proxy:\n        backend: api\n"))})
		if err != nil {
			t.Fatal(err)
		}
		srv := serveForTestWith(t, gw, tc.server)
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		_, _ = io.WriteString(c, "POST /api/up HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("%q: %v", tc.server, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Close != tc.wantClose {
			t.Errorf("%q: status %d close %v, want close %v", tc.server, resp.StatusCode, resp.Close, tc.wantClose)
		}
		c.Close()
		srv.Close()
		gw.Close()
	}
}
