package gateway

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// spliceBodyBytes is a body with no repeating 64 KiB period, so a piece
// sent twice or skipped shows.
func spliceBodyBytes(n int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "%08d\n", i)
	}
	return b.Bytes()[:n]
}

// serveBody answers every request of a connection with body, head and
// body in one write as nginx sends a file it holds in memory.
func serveBody(body []byte) func(o *rawOrigin, c net.Conn, br *bufio.Reader, _ int) {
	return func(o *rawOrigin, c net.Conn, br *bufio.Reader, _ int) {
		for {
			if _, ok := o.read(br); !ok {
				return
			}
			head := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", len(body))
			if _, err := c.Write(append([]byte(head), body...)); err != nil {
				return
			}
		}
	}
}

// servePartly answers one request with a head announcing length bytes,
// sends the first sent of them, and leaves the rest to then (the
// connection closes when then returns).
func servePartly(length, sent int, then func(net.Conn)) func(o *rawOrigin, c net.Conn, br *bufio.Reader, _ int) {
	return func(o *rawOrigin, c net.Conn, br *bufio.Reader, _ int) {
		if _, ok := o.read(br); !ok {
			return
		}
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", length)
		_, _ = c.Write(spliceBodyBytes(sent))
		then(c)
	}
}

// A large body from a plain origin reaches a plain client whole through
// the spliced path, the client's and the origin's connections stay
// usable, and the next request on both works.
func TestSplicedBodyArrivesWholeAndKeepsConnections(t *testing.T) {
	for _, size := range []int{spliceMin + 8<<10, 1 << 20, 3<<20 + 17} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			body := spliceBodyBytes(size)
			o := newRawOrigin(t, serveBody(body))
			h := newHarness(t, gatewayYAML(o.url(), "", "    - path: /x\n      proxy:\n        backend: api\n"))
			before := splicedBodies.Load()
			for i := range 3 {
				resp, got := h.do(http.MethodGet, "/x", nil, nil)
				if resp.StatusCode != 200 || got != string(body) {
					t.Fatalf("request %d: status %d, %d bytes, want %d (first difference at %d)", i, resp.StatusCode, len(got), len(body), firstDifference(got, string(body)))
				}
			}
			if n := splicedBodies.Load() - before; n != 3 {
				t.Errorf("%d of 3 bodies were spliced", n)
			}
			if n := o.conns.Load(); n != 1 {
				t.Errorf("the origin saw %d connections, want 1 (kept alive after a spliced body)", n)
			}
			// The access log counts what the client was sent, spliced too.
			// Its line follows the response: the client can be first.
			want := fmt.Sprintf(`"bytes":%d`, size)
			waitFor(t, "three access log lines with "+want, func() bool { return strings.Count(h.logs.String(), want) == 3 })
		})
	}
}

// A body whose remainder after the head's read is short (a 64 KiB one
// too) and one with a chunked framing take the copy loop.
func TestSmallAndChunkedBodiesAreNotSpliced(t *testing.T) {
	small := spliceBodyBytes(64 << 10)
	o := newRawOrigin(t, serveBody(small))
	h := newHarness(t, gatewayYAML(o.url(), "", "    - path: /x\n      proxy:\n        backend: api\n"))
	before := splicedBodies.Load()
	if resp, got := h.do(http.MethodGet, "/x", nil, nil); resp.StatusCode != 200 || got != string(small) {
		t.Fatalf("small body: %d, %d bytes", resp.StatusCode, len(got))
	}
	chunked := newRawOrigin(t, func(o *rawOrigin, c net.Conn, br *bufio.Reader, _ int) {
		if _, ok := o.read(br); !ok {
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
		for range 4 {
			fmt.Fprintf(c, "%x\r\n%s\r\n", 64<<10, strings.Repeat("c", 64<<10))
		}
		_, _ = io.WriteString(c, "0\r\n\r\n")
	})
	h2 := newHarness(t, gatewayYAML(chunked.url(), "", "    - path: /x\n      proxy:\n        backend: api\n"))
	if resp, got := h2.do(http.MethodGet, "/x", nil, nil); resp.StatusCode != 200 || len(got) != 256<<10 {
		t.Fatalf("chunked body: %d, %d bytes", resp.StatusCode, len(got))
	}
	if n := splicedBodies.Load() - before; n != 0 {
		t.Errorf("%d bodies were spliced, want 0", n)
	}
}

// An origin that closes before its Content-Length is sent cuts the
// client's response off and is logged and counted as the backend's
// failure, as on the copy path.
func TestSplicedBodyCutOffByTheOrigin(t *testing.T) {
	o := newRawOrigin(t, servePartly(1<<20, 200<<10, func(net.Conn) {}))
	h := newHarness(t, gatewayYAML(o.url(), "", "    - path: /x\n      proxy:\n        backend: api\n"))
	before := splicedBodies.Load()
	expectCutOff(t, h, 1<<20, "backend")
	if n := splicedBodies.Load() - before; n != 1 {
		t.Errorf("%d bodies were spliced, want 1", n)
	}
}

// expectCutOff GETs /x, wants a body shorter than size that ends in an
// error, and the gateway's cut-off log line with errorType.
func expectCutOff(t *testing.T, h *harness, size int, errorType string) {
	t.Helper()
	resp, err := h.client.Get(h.srv.URL + "/x")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil || len(got) >= size {
		t.Fatalf("the client read %d bytes and %v, want a cut-off body", len(got), err)
	}
	waitFor(t, "the cut-off log line", func() bool { return strings.Contains(h.logs.String(), "response body cut off") })
	if want := `"error_type":"` + errorType + `"`; !strings.Contains(h.logs.String(), want) {
		t.Errorf("the cut-off lacks %s:\n%s", want, h.logs.String())
	}
}

// An origin that stalls mid-body past the backend's timeout is cut off
// as a timeout.
func TestSplicedBodyCutOffByTheTimeout(t *testing.T) {
	release := make(chan struct{})
	o := newRawOrigin(t, servePartly(1<<20, 200<<10, func(net.Conn) { <-release }))
	t.Cleanup(func() { close(release) }) // before the origin's cleanup waits for it
	h := newHarness(t, gatewayYAML(o.url(), "      timeout: 1s\n", "    - path: /x\n      proxy:\n        backend: api\n"))
	expectCutOff(t, h, 1<<20, "backend_timeout")
}

// A client that leaves in the middle of a spliced body is no failure of
// the backend: nothing is logged as cut off, and the origin's connection,
// its body unfinished, is closed rather than reused.
func TestSplicedBodyClientLeaves(t *testing.T) {
	release := make(chan struct{})
	o := newRawOrigin(t, servePartly(4<<20, 100<<10, func(c net.Conn) {
		<-release
		_, _ = c.Write(spliceBodyBytes(4 << 20)) // fails or fills buffers once the gateway closes
		_, _ = io.Copy(io.Discard, c)
	}))
	h := newHarness(t, gatewayYAML(o.url(), "", "    - path: /x\n      proxy:\n        backend: api\n"))
	before := splicedBodies.Load()
	c, err := net.Dial("tcp", h.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, "GET /x HTTP/1.1\r\nHost: gw\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, 64<<10)); err != nil {
		t.Fatal(err)
	}
	c.Close()
	close(release)
	o.waitClosed(t, 1)
	if n := splicedBodies.Load() - before; n != 1 {
		t.Errorf("%d bodies were spliced, want 1", n)
	}
	if logs := h.logs.String(); strings.Contains(logs, "response body cut off") {
		t.Errorf("a client leaving was logged as the backend's failure:\n%s", logs)
	}
}

func firstDifference(a, b string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// Bytes an origin sends after a spliced body's Content-Length (a second,
// unasked response) are never spliced to the client nor read as the next
// request's answer: the connection is not reused.
func TestSplicedBodyStopsAtContentLength(t *testing.T) {
	body := spliceBodyBytes(256 << 10)
	const stray = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstray"
	o := newRawOrigin(t, func(o *rawOrigin, c net.Conn, br *bufio.Reader, _ int) {
		for {
			if _, ok := o.read(br); !ok {
				return
			}
			head := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", len(body))
			if _, err := c.Write([]byte(head + string(body) + stray)); err != nil {
				return
			}
		}
	})
	h := newHarness(t, gatewayYAML(o.url(), "", "    - path: /x\n      proxy:\n        backend: api\n"))
	before := splicedBodies.Load()
	for i := range 2 {
		resp, got := h.do(http.MethodGet, "/x", nil, nil)
		if resp.StatusCode != 200 || got != string(body) {
			t.Fatalf("request %d: status %d, %d bytes (first difference at %d)", i, resp.StatusCode, len(got), firstDifference(got, string(body)))
		}
	}
	if n := splicedBodies.Load() - before; n != 2 {
		t.Errorf("%d of 2 bodies were spliced", n)
	}
	if n := o.conns.Load(); n != 2 {
		t.Errorf("the origin saw %d connections, want 2 (the one with stray bytes is not reused)", n)
	}
}

// A TLS origin's body is copied, not spliced (its bytes are encrypted on
// the socket), and arrives whole.
func TestTLSOriginBodyIsNotSpliced(t *testing.T) {
	p := newTestPKI(t)
	body := spliceBodyBytes(1 << 20)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{p.server}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	h := newHarness(t, gatewayYAML(srv.URL, "      tls:\n        server_ca_certificate_file: "+p.caFile+"\n",
		"    - path: /x\n      proxy:\n        backend: api\n"))
	before := splicedBodies.Load()
	if resp, got := h.do(http.MethodGet, "/x", nil, nil); resp.StatusCode != 200 || got != string(body) {
		t.Fatalf("status %d, %d bytes (first difference at %d)\n%s", resp.StatusCode, len(got), firstDifference(got, string(body)), h.logs)
	}
	if n := splicedBodies.Load() - before; n != 0 {
		t.Errorf("%d bodies were spliced, want 0", n)
	}
}
