package gateway

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
)

// framedRequest is a request as the client framed it (RFC 9112 §6).
type framedRequest struct {
	method string
	body   string
}

// clientFraming reads raw as the requests a strict HTTP/1.1 server would
// see, stopping at the first one whose framing is faulty or ambiguous:
// Transfer-Encoding in HTTP/1.0, Transfer-Encoding next to Content-Length,
// a coding other than a single chunked, or differing Content-Lengths.
// It is the reference for what an origin may receive.
func clientFraming(raw []byte) []framedRequest {
	br := bufio.NewReader(bytes.NewReader(raw))
	tp := textproto.NewReader(br)
	var out []framedRequest
	last := ""
	for range 64 {
		if last == http.MethodPost { // net/http's tolerance for old clients
			peek, _ := br.Peek(4)
			n := 0
			for n < len(peek) && (peek[n] == '\r' || peek[n] == '\n') {
				n++
			}
			_, _ = br.Discard(n)
		}
		line, err := tp.ReadLine()
		if err != nil {
			return out
		}
		method, rest, ok := strings.Cut(line, " ")
		if !ok {
			return out
		}
		_, proto, ok := strings.Cut(rest, " ")
		major, minor, okVersion := http.ParseHTTPVersion(proto)
		if !ok || !okVersion || major != 1 {
			return out
		}
		hdr, err := tp.ReadMIMEHeader()
		if err != nil {
			return out
		}
		te, hasTE := hdr["Transfer-Encoding"]
		cl, hasCL := hdr["Content-Length"]
		var body []byte
		switch {
		case hasTE && (minor == 0 || hasCL || len(te) != 1 || !strings.EqualFold(strings.TrimSpace(te[0]), "chunked")):
			return out
		case hasTE:
			if body, err = io.ReadAll(httputil.NewChunkedReader(br)); err != nil {
				return out
			}
			if _, err := tp.ReadMIMEHeader(); err != nil { // trailer
				return out
			}
		case hasCL:
			for _, v := range cl[1:] {
				if strings.TrimSpace(v) != strings.TrimSpace(cl[0]) {
					return out
				}
			}
			n, err := strconv.ParseUint(strings.TrimSpace(cl[0]), 10, 63)
			if err != nil || n > uint64(len(raw)) {
				return out
			}
			body = make([]byte, n)
			if _, err := io.ReadFull(br, body); err != nil {
				return out
			}
		}
		out = append(out, framedRequest{method: method, body: string(body)})
		last = method
	}
	return out
}

// fuzzOrigin records the requests whose body it read to the end, per
// fuzz input: each upstream connection is tagged, when the gateway dials
// it, with the input being run, so a request that arrives late (the
// gateway gave up on it, the origin read it anyway) is never taken for
// one of the next input's.
type fuzzOrigin struct {
	mu       sync.Mutex
	input    int
	dialedIn map[string]int // upstream local address -> input
	complete map[int][]framedRequest
	// conns in StateNew or StateActive: a request may still be read.
	busy map[net.Conn]bool
}

func newFuzzOrigin() *fuzzOrigin {
	return &fuzzOrigin{dialedIn: map[string]int{}, complete: map[int][]framedRequest{}, busy: map[net.Conn]bool{}}
}

func (o *fuzzOrigin) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err == nil {
		o.mu.Lock()
		o.dialedIn[c.LocalAddr().String()] = o.input
		o.mu.Unlock()
	}
	return c, err
}

// next starts an input and returns its number.
func (o *fuzzOrigin) next() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.input++
	for a, in := range o.dialedIn {
		if in < o.input-8 {
			delete(o.dialedIn, a)
		}
	}
	for in := range o.complete {
		if in < o.input-8 {
			delete(o.complete, in)
		}
	}
	return o.input
}

func (o *fuzzOrigin) take(input int) []framedRequest {
	o.mu.Lock()
	defer o.mu.Unlock()
	c := o.complete[input]
	delete(o.complete, input)
	return c
}

func (o *fuzzOrigin) connState(c net.Conn, s http.ConnState) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if s == http.StateNew || s == http.StateActive {
		o.busy[c] = true
	} else {
		delete(o.busy, c)
	}
}

func (o *fuzzOrigin) idle() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.busy) == 0
}

func (o *fuzzOrigin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	if err == nil {
		o.mu.Lock()
		if in, ok := o.dialedIn[r.RemoteAddr]; ok {
			o.complete[in] = append(o.complete[in], framedRequest{method: r.Method, body: string(b)})
		}
		o.mu.Unlock()
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
}

var fuzzSeeds = []string{
	"GET /a HTTP/1.1\r\nHost: gw\r\n\r\n",
	"POST /a HTTP/1.1\r\nHost: gw\r\nContent-Length: 5\r\n\r\nhello",
	"POST /a HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
	"POST /a HTTP/1.0\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
	"POST /a HTTP/1.0\r\nHost: gw\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n1c\r\nGET /b HTTP/1.1\r\nHost: gw\r\n\r\n\r\n0\r\n\r\n",
	"POST /a HTTP/1.1\r\nHost: gw\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /b HTTP/1.1\r\nHost: gw\r\n\r\n",
	"POST /a HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n",
	"POST /a HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\nx\r\n0\r\n\r\n",
	"GET /a/%2e%2e/b HTTP/1.1\r\nHost: gw\r\n\r\n",
	"POST /a HTTP/1.1\r\nHost: gw\r\nContent-Length: 3\r\n\r\nabc\r\nPOST /b HTTP/1.1\nHost: gw\nContent-Length: 1\n\nxGET /c HTTP/1.1\r\nHost: gw\r\n\r\n",
	"POST /a HTTP/1.1\r\nHost: gw\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
	"POST /a HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding:\r\n chunked\r\nContent-Length: 3\r\n\r\nabc",
	"POST /a HTTP/1.1\r\nHost: gw\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok",
	"POST /a HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: v\r\n\r\n",
	"POST /a HTTP/1.1\r\nHost: gw\r\nCTP/1.1\r\nHost: gw\r\n\n",
}

// FuzzGatewayFraming writes raw bytes to the gateway's real listener and
// checks: no panic, every answer a well-formed status line (or the
// connection closed), and the origin never reads to the end a body that
// differs from what the client framed. Inputs are capped at 4 KiB and
// every wait is bounded.
func FuzzGatewayFraming(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	origin := newFuzzOrigin()
	gw, addr, handling, logs := fuzzGateway(f, origin)
	f.Fuzz(func(t *testing.T, raw []byte) {
		if len(raw) > 4<<10 {
			return
		}
		gw.Close() // pooled upstream connections belong to earlier inputs
		input := origin.next()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetWriteDeadline(time.Now().Add(2 * time.Second))
		_, _ = c.Write(raw)
		// Half-closing ends the exchange without waiting for the idle
		// timeout: once net/http reads EOF it closes the connection.
		_ = c.(*net.TCPConn).CloseWrite()
		out := readUntilClosed(c)
		if len(out) > 0 && !validStatusLine(out) {
			t.Fatalf("answer starts %q", out[:min(len(out), 40)])
		}
		c.Close()
		// Nothing of this input may still be on its way to the origin
		// when its requests are counted (nor leak into the next input).
		for i := 0; i < 400 && (handling.Load() > 0 || !origin.idle()); i++ {
			time.Sleep(5 * time.Millisecond)
		}
		if strings.Contains(logs.String(), "panic") {
			t.Fatalf("panic logged: %s", logs.String())
		}
		framed := clientFraming(raw)
		next := 0
		for _, got := range origin.take(input) {
			for next < len(framed) && framed[next] != got {
				next++
			}
			if next == len(framed) {
				t.Fatalf("origin read %+v, which the client never framed (framed: %+v)", got, framed)
			}
			next++
		}
	})
}

// fuzzGateway serves one catch-all proxy endpoint in front of origin, on
// the listener and server ServeListener uses.
func fuzzGateway(f *testing.F, origin *fuzzOrigin) (*Gateway, string, *atomic.Int64, *logBuffer) {
	o := httptest.NewUnstartedServer(origin)
	o.Config.ConnState = origin.connState
	o.Start()
	f.Cleanup(o.Close)
	cfg, err := config.Parse([]byte(gatewayYAML(o.URL, "", "    - path: /**\n      proxy:\n        backend: api\n")))
	if err != nil {
		f.Fatal(err)
	}
	logs := &logBuffer{}
	gw, err := New(Options{Config: cfg, Logger: slog.New(slog.NewTextHandler(logs, nil)), Dial: origin.dial})
	if err != nil {
		f.Fatal(err)
	}
	handling := &atomic.Int64{}
	srv := serveForTest(f, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handling.Add(1)
		defer handling.Add(-1)
		gw.ServeHTTP(w, r)
	}))
	f.Cleanup(func() {
		srv.Close()
		gw.Close()
	})
	return gw, srv.Listener.Addr().String(), handling, logs
}

// readUntilClosed reads what the gateway sends until it closes the
// connection; the bounds only end a broken exchange.
func readUntilClosed(c net.Conn) []byte {
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	out, _ := io.ReadAll(io.LimitReader(c, 1<<20))
	return out
}

// validStatusLine: "HTTP/1.x" and a status from 100 to 599.
func validStatusLine(b []byte) bool {
	line, _, _ := bytes.Cut(b, []byte("\r\n"))
	parts := strings.SplitN(string(line), " ", 3)
	if len(parts) < 2 || (parts[0] != "HTTP/1.1" && parts[0] != "HTTP/1.0") {
		return false
	}
	code, err := strconv.Atoi(parts[1])
	return err == nil && len(parts[1]) == 3 && code >= 100 && code <= 599
}
