package gateway

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"
)

// Hostile input against the plain listener's own HTTP/1.1 server
// (h1server*.go) through a real 127.0.0.1 listener, with small handlers
// instead of the gateway so each test sees exactly what the server hands
// over. Sleeps in handlers only make the server take its slower paths
// (the promoted background read needs one to two parkedReadTicks); no
// assertion depends on time. Every deadline is a bound for a broken test.

// h1Paths is a handler that records each request it runs and answers
// "ok:<path>:<body>", or 400 when the body fails to read.
type h1Paths struct {
	mu    sync.Mutex
	paths []string
	slow  time.Duration // /slow sleeps this long first
}

func (p *h1Paths) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.paths = append(p.paths, r.URL.Path)
	p.mu.Unlock()
	if r.URL.Path == "/slow" {
		time.Sleep(p.slow)
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	fmt.Fprintf(w, "ok:%s:%s", r.URL.Path, b)
}

func (p *h1Paths) seen() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.paths...)
}

func h1Dial(t *testing.T, srv *testServer) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	return c
}

// h1Closed reports whether the server closed c (EOF or reset) after the
// answers br has read; a timeout here is the 5 s test bound.
func h1Closed(br *bufio.Reader) bool {
	_, err := br.ReadByte()
	return err != nil && !errors.Is(err, errors.ErrUnsupported) && !isTimeout(err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestH1ServerHostileHeads(t *testing.T) {
	big := strings.Repeat("a", maxClientHead+6<<10)
	cases := []struct {
		name   string
		raw    string
		status int  // 0: closed unanswered
		closes bool // the server closes after the answer
		half   bool // the client half-closes after raw
	}{
		{name: "oversized single field line", raw: "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + big + "\r\n\r\n", status: 431, closes: true},
		{name: "oversized line without LF", raw: "GET /" + big + big, status: 431, closes: true},
		{name: "many small fields past the limit", raw: "GET / HTTP/1.1\r\nHost: a\r\n" + strings.Repeat("X-A: b\r\n", maxClientHead/8+600) + "\r\n", status: 431, closes: true},
		{name: "head just under the limit", raw: "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + strings.Repeat("a", maxClientHead-1024) + "\r\n\r\n", status: 200},
		{name: "NUL in value", raw: "GET / HTTP/1.1\r\nHost: a\r\nX-A: a\x00b\r\n\r\n", status: 400, closes: true},
		{name: "DEL in value", raw: "GET / HTTP/1.1\r\nHost: a\r\nX-A: a\x7fb\r\n\r\n", status: 400, closes: true},
		{name: "control byte in name", raw: "GET / HTTP/1.1\r\nHost: a\r\nX\x01A: b\r\n\r\n", status: 400, closes: true},
		{name: "space before colon", raw: "GET / HTTP/1.1\r\nHost: a\r\nX-A : b\r\n\r\n", status: 400, closes: true},
		{name: "empty name", raw: "GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n", status: 400, closes: true},
		{name: "ESC in target", raw: "GET /\x1b[31m HTTP/1.1\r\nHost: a\r\n\r\n", status: 400, closes: true},
		{name: "NUL in target", raw: "GET /\x00 HTTP/1.1\r\nHost: a\r\n\r\n", status: 400, closes: true},
		{name: "tab in value", raw: "GET / HTTP/1.1\r\nHost: a\r\nX-A: a\tb\r\n\r\n", status: 200},
		{name: "bare CR in value", raw: "GET / HTTP/1.1\r\nHost: a\r\nX-A: a\rb\r\n\r\n", status: 400, closes: true},
		{name: "bare CR ending the request line", raw: "GET / HTTP/1.1\r\r\nHost: a\r\n\r\n", status: 400, closes: true},
		{name: "bare LF line ends (as net/http)", raw: "GET / HTTP/1.1\nHost: a\n\n", status: 200},
		{name: "obs-fold", raw: "GET / HTTP/1.1\r\nHost: a\r\nX-A: a\r\n b\r\n\r\n", status: 400, closes: true},
		{name: "duplicated Host", raw: "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", status: 400, closes: true},
		{name: "missing Host in HTTP/1.1", raw: "GET / HTTP/1.1\r\n\r\n", status: 400, closes: true},
		{name: "no Host in HTTP/1.0", raw: "GET / HTTP/1.0\r\n\r\n", status: 200, closes: true},
		{name: "Host with a space", raw: "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", status: 400, closes: true},
		{name: "equal Content-Lengths", raw: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", status: 200},
		{name: "differing Content-Lengths", raw: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", status: 400, closes: true},
		{name: "Content-Length list", raw: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\nabc", status: 400, closes: true},
		{name: "signed Content-Length", raw: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\nabc", status: 400, closes: true},
		{name: "negative Content-Length", raw: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", status: 400, closes: true},
		{name: "empty Content-Length", raw: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", status: 400, closes: true},
		{name: "Content-Length past int64", raw: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", status: 400, closes: true},
		{name: "Transfer-Encoding gzip", raw: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", status: 501, closes: true},
		{name: "Transfer-Encoding list", raw: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", status: 501, closes: true},
		{name: "Transfer-Encoding twice", raw: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", status: 501, closes: true},
		// The handler here is not the gateway's, which answers these 400
		// (framing verdict); the server itself must close after them and
		// never read what follows as a request.
		{name: "Transfer-Encoding with Content-Length", raw: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n", status: 200, closes: true},
		{name: "Transfer-Encoding in HTTP/1.0", raw: "POST / HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n", status: 200, closes: true},
		{name: "HTTP/1.2", raw: "GET / HTTP/1.2\r\nHost: a\r\n\r\n", status: 400, closes: true},
		{name: "HTTP/2.0", raw: "GET / HTTP/2.0\r\nHost: a\r\n\r\n", status: 505, closes: true},
		{name: "lower-case version", raw: "GET / http/1.1\r\nHost: a\r\n\r\n", status: 400, closes: true},
		{name: "unknown Expect", raw: "GET / HTTP/1.1\r\nHost: a\r\nExpect: fly\r\n\r\n", status: 417, closes: true},
		{name: "100-continue in HTTP/1.0", raw: "POST / HTTP/1.0\r\nContent-Length: 1\r\nExpect: 100-continue\r\n\r\nx", status: 200, closes: true}, // ignored in HTTP/1.0, as net/http,
		{name: "truncated head", raw: "GET / HTTP/1.1\r\nHost: a\r\nX-", status: 400, closes: true, half: true},
		{name: "chunk size not hex", raw: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", status: 400, closes: true},
		{name: "chunk size overflow", raw: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\nx\r\n0\r\n\r\n", status: 400, closes: true},
		{name: "chunk data without CRLF", raw: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n", status: 400, closes: true},
		{name: "chunk extension past a line", raw: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;x=" + strings.Repeat("y", 5000) + "\r\nabc\r\n0\r\n\r\n", status: 400, closes: true},
		{name: "huge trailer section", raw: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n" + strings.Repeat("X-T: "+strings.Repeat("t", 1000)+"\r\n", 80) + "\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n", status: 400, closes: true},
		{name: "chunk extensions and trailer", raw: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;a=b;c\r\nabc\r\n0;z\r\nX-T: 1\r\n\r\n", status: 200},
	}
	p := &h1Paths{}
	srv := serveForTest(t, p)
	t.Cleanup(srv.Close)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := h1Dial(t, srv)
			go func() {
				// The server may answer and close before it read it all.
				_, _ = io.WriteString(c, tc.raw)
				if tc.half {
					_ = c.(*net.TCPConn).CloseWrite()
				}
			}()
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				if tc.status != 0 {
					t.Fatalf("no answer: %v", err)
				}
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if tc.closes && !h1Closed(br) {
				t.Fatalf("connection left open after %d", tc.status)
			}
		})
	}
	for _, path := range p.seen() {
		if path == "/smuggled" {
			t.Fatalf("a smuggled request reached the handler: %q", p.seen())
		}
	}
}

// A head sent a byte at a time, within the head timeout, is served. (Past
// the timeout is not tested here: clientHeaderTimeout is a 10 s constant.)
func TestH1ServerSlowHeadWithinTimeout(t *testing.T) {
	srv := serveForTest(t, &h1Paths{})
	t.Cleanup(srv.Close)
	c := h1Dial(t, srv)
	for _, b := range []byte("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi") {
		if _, err := c.Write([]byte{b}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	a := readAnswers(t, bufio.NewReader(c), 1)
	if a[0].body != "ok:/x:hi" {
		t.Fatalf("answer %q", a[0].body)
	}
}

// Requests pipelined behind a slow one are answered in order, whether
// they were in the server's buffer when the background read started,
// came while it waited, or overflowed the 4 KiB buffer.
func TestH1ServerPipelinedBehindSlow(t *testing.T) {
	p := &h1Paths{slow: 8 * parkedReadTick}
	srv := serveForTest(t, p)
	t.Cleanup(srv.Close)
	slow := "GET /slow HTTP/1.1\r\nHost: a\r\n\r\n"
	rest := "GET /a HTTP/1.1\r\nHost: a\r\n\r\n" +
		"POST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nxyz" +
		"POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nuv\r\n0\r\n\r\n" +
		"GET /d HTTP/1.1\r\nHost: a\r\n\r\n"
	want := []string{"ok:/slow:", "ok:/a:", "ok:/b:xyz", "ok:/c:uv", "ok:/d:"}
	var many strings.Builder
	wantMany := []string{"ok:/slow:"}
	for i := range 120 {
		fmt.Fprintf(&many, "GET /m%d HTTP/1.1\r\nHost: a\r\nX-Pad: %s\r\n\r\n", i, strings.Repeat("p", 40))
		wantMany = append(wantMany, fmt.Sprintf("ok:/m%d:", i))
	}
	cases := []struct {
		name    string
		first   string
		later   string // sent while /slow runs
		answers []string
	}{
		{"all in one write", slow + rest, "", want},
		{"sent while the slow one runs", slow, rest, want},
		{"first byte alone while the slow one runs", slow, rest[:1] + "\x00" + rest[1:], want},
		{"more than the buffer", slow + many.String(), "", wantMany},
		{"more than the buffer, later", slow, many.String(), wantMany},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := h1Dial(t, srv)
			if _, err := io.WriteString(c, tc.first); err != nil {
				t.Fatal(err)
			}
			if tc.later != "" {
				time.Sleep(3 * parkedReadTick) // the background read is running
				first, rest, split := strings.Cut(tc.later, "\x00")
				_, _ = io.WriteString(c, first)
				if split {
					time.Sleep(3 * parkedReadTick)
					_, _ = io.WriteString(c, rest)
				}
			}
			got := readAnswers(t, bufio.NewReader(c), len(tc.answers))
			for i, a := range got {
				if a.body != tc.answers[i] {
					t.Fatalf("answer %d: %q, want %q", i, a.body, tc.answers[i])
				}
			}
		})
	}
}

// A hijacker (websocket.go) gets every byte the client sent after the
// head, in order: the buffered ones, the one the background read took,
// and the rest from the connection.
func TestH1ServerHijackGetsEarlyBytes(t *testing.T) {
	const early = "early-frames-0123456789"
	got := make(chan string, 4)
	srv := serveForTest(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(8 * parkedReadTick) // the background read is running
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			got <- "hijack: " + err.Error()
			return
		}
		defer conn.Close()
		// As websocket.go: the buffered bytes, then the connection itself.
		buf, _ := brw.Reader.Peek(brw.Reader.Buffered())
		b := append([]byte(nil), buf...)
		if len(b) < len(early) {
			rest := make([]byte, len(early)-len(b))
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, _ := io.ReadFull(conn, rest)
			b = append(b, rest[:n]...)
		}
		got <- string(b)
		_, _ = io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n")
	}))
	t.Cleanup(srv.Close)
	head := "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n"
	for _, later := range []bool{false, true} {
		c := h1Dial(t, srv)
		if later {
			_, _ = io.WriteString(c, head)
			time.Sleep(3 * parkedReadTick)
			_, _ = io.WriteString(c, early)
		} else {
			_, _ = io.WriteString(c, head+early)
		}
		select {
		case s := <-got:
			if s != early {
				t.Fatalf("later %v: hijacker read %q, want %q", later, s, early)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("later %v: handler did not report", later)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != 101 {
			t.Fatalf("later %v: answer %v %v", later, resp, err)
		}
		c.Close()
	}
}

// "Expect: 100-continue" gets "100 Continue" only when the handler reads
// the body; a handler that answers without it gets its answer out and
// the connection closed, with no go-ahead sent.
func TestH1ServerExpectContinue(t *testing.T) {
	srv := serveForTest(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/read" {
			b, _ := io.ReadAll(r.Body)
			fmt.Fprintf(w, "read:%s", b)
			return
		}
		_, _ = io.WriteString(w, "unread")
	}))
	t.Cleanup(srv.Close)

	c := h1Dial(t, srv)
	br := bufio.NewReader(c)
	_, _ = io.WriteString(c, "POST /read HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusContinue {
		t.Fatalf("want 100 first: %v %v", resp, err)
	}
	_, _ = io.WriteString(c, "hello")
	a := readAnswers(t, br, 1)
	if a[0].body != "read:hello" {
		t.Fatalf("answer %q", a[0].body)
	}

	c = h1Dial(t, srv)
	br = bufio.NewReader(c)
	_, _ = io.WriteString(c, "POST /ignore HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(b) != "unread" || !resp.Close {
		t.Fatalf("answer %d %q close %v, want 200 \"unread\" with Connection: close", resp.StatusCode, b, resp.Close)
	}
	if !h1Closed(br) {
		t.Fatal("connection left open with a body the server never asked for")
	}
}

// A handler that panics mid-answer leaves a body the client can tell is
// cut (no last chunk, or short of its Content-Length), and the server
// keeps serving.
func TestH1ServerPanicMidBody(t *testing.T) {
	srv := serveForTest(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fine" {
			_, _ = io.WriteString(w, "fine")
			return
		}
		if r.URL.Query().Get("cl") != "" {
			w.Header().Set("Content-Length", "5000")
		}
		_, _ = w.Write([]byte(strings.Repeat("x", 3000)))
		w.(http.Flusher).Flush()
		if r.URL.Query().Get("abort") != "" {
			panic(http.ErrAbortHandler)
		}
		panic("handler bug")
	}))
	t.Cleanup(srv.Close)
	for _, q := range []string{"", "abort=1", "cl=1", "cl=1&abort=1"} {
		c := h1Dial(t, srv)
		_, _ = io.WriteString(c, "GET /p?"+q+" HTTP/1.1\r\nHost: a\r\n\r\nGET /fine HTTP/1.1\r\nHost: a\r\n\r\n")
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if _, err := io.ReadAll(resp.Body); err == nil {
			t.Fatalf("%s: a cut body read as complete", q)
		}
		if !h1Closed(br) {
			t.Fatalf("%s: connection served on after a panic", q)
		}
	}
	// A panic before anything was written: the connection just closes.
	c := h1Dial(t, srv)
	_, _ = io.WriteString(c, "GET /p HTTP/1.1\r\nHost: a\r\nX: 1\r\n\r\n")
	if _, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil {
		// 3000 bytes were flushed before the panic; it is cut, not absent.
		t.Log("answer head before the panic, as expected for a flushed body")
	}
	a := readAnswers(t, bufio.NewReader(h1DialWrite(t, srv, "GET /fine HTTP/1.1\r\nHost: a\r\n\r\n")), 1)
	if a[0].body != "fine" {
		t.Fatalf("after the panics: %q", a[0].body)
	}
}

func h1DialWrite(t *testing.T, srv *testServer, raw string) net.Conn {
	t.Helper()
	c := h1Dial(t, srv)
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	return c
}

// A client that leaves mid-body, or while its request waits, ends the
// request's context, so the layers waiting on it stop.
func TestH1ServerClientLeaves(t *testing.T) {
	type outcome struct {
		readErr error
		ctxDone bool
	}
	out := make(chan outcome, 2)
	srv := serveForTest(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		select {
		case <-r.Context().Done():
			out <- outcome{err, true}
		case <-time.After(5 * time.Second): // the test's bound
			out <- outcome{err, false}
		}
	}))
	t.Cleanup(srv.Close)
	for _, raw := range []string{
		"POST /body HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\nonly ten..",
		"POST /body HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
		"GET /wait HTTP/1.1\r\nHost: a\r\n\r\n",
	} {
		c := h1DialWrite(t, srv, raw)
		time.Sleep(parkedReadTick)
		c.Close()
		o := <-out
		if !o.ctxDone {
			t.Fatalf("%q: the request's context outlived its client", raw)
		}
		if strings.HasPrefix(raw, "POST") && o.readErr == nil {
			t.Fatalf("%q: a cut body read as complete", raw)
		}
	}
}

// Shutdown closes idle, new and half-sent connections and leaves no
// goroutine (TestMain's goleak checks the package).
func TestH1ServerShutdownWithIdleConnections(t *testing.T) {
	srv := serveForTest(t, &h1Paths{})
	var conns []net.Conn
	for i := range 24 {
		c := h1Dial(t, srv)
		switch i % 3 {
		case 0: // idle after a request
			_, _ = io.WriteString(c, "GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
			readAnswers(t, bufio.NewReader(c), 1)
		case 1: // half a head
			_, _ = io.WriteString(c, "GET /x HTTP/1.1\r\nHo")
		}
		conns = append(conns, c)
	}
	done := make(chan struct{})
	go func() { srv.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("shutdown did not end")
	}
	for i, c := range conns {
		if _, err := c.Read(make([]byte, 64)); err == nil || isTimeout(err) {
			t.Fatalf("connection %d still open after shutdown: %v", i, err)
		}
	}
}

// The connState hook (connlimit's idle tracking) sees every connection
// through New, Active, Idle and Closed, and a hijacked one leave.
func TestH1ServerConnStates(t *testing.T) {
	var mu sync.Mutex
	states := map[net.Conn][]http.ConnState{}
	s := &h1Server{
		h: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/hijack" {
				c, _, err := http.NewResponseController(w).Hijack()
				if err == nil {
					c.Close()
				}
				return
			}
			_, _ = io.WriteString(w, "ok")
		}),
		logger: slog.New(slog.DiscardHandler),
		connState: func(c net.Conn, st http.ConnState) {
			mu.Lock()
			states[c] = append(states[c], st)
			mu.Unlock()
		},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.serve(ctx, ln, 200*time.Millisecond) }()
	srv := &testServer{Listener: ln}
	for _, raw := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /hijack HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
	} {
		c := h1DialWrite(t, srv, raw)
		_, _ = http.ReadResponse(bufio.NewReader(c), nil)
		c.Close()
	}
	// Each connection ends on its own (the client closed it) before the
	// server is stopped: a stop while one is between its answer and idle
	// would end it "active closed" and make the count a race.
	ended := func() int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, st := range states {
			if last := st[len(st)-1]; last == http.StateClosed || last == http.StateHijacked {
				n++
			}
		}
		return n
	}
	for i := 0; ended() < 4; i++ {
		if i == 5000 {
			t.Fatalf("only %d of 4 connections ended", ended())
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	var got []string
	for _, st := range states {
		got = append(got, fmt.Sprint(st))
	}
	want := map[string]int{"[new active idle closed]": 2, "[new active hijacked]": 1, "[new active closed]": 1}
	for _, g := range got {
		want[g]--
	}
	for k, n := range want {
		if n != 0 {
			t.Fatalf("state sequences %q, want two %s, one of the others", got, k)
		}
	}
}

// Field values cannot split the answer, invalid names are dropped, and
// a body longer than its Content-Length does not reach the wire, through
// Write or ReadFrom: the next answer on the connection must parse.
func TestH1ServerResponseFraming(t *testing.T) {
	srv := serveForTest(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/inject":
			w.Header()["X-Inj"] = []string{"a\r\nX-Evil: 1\r\n\r\nHTTP/1.1 200 OK"}
			w.Header()["Bad Name"] = []string{"v"}
			w.Header()["X:Y"] = []string{"v"}
			w.Header()["X-Nl\r\nX-Evil"] = []string{"v"}
		case "/long-write":
			w.Header().Set("Content-Length", "5")
			_, _ = io.WriteString(w, "01234")
			if _, err := io.WriteString(w, "56789"); !errors.Is(err, http.ErrContentLength) {
				panic(fmt.Sprintf("write past Content-Length: %v", err))
			}
			return
		case "/long-readfrom":
			w.Header().Set("Content-Length", "5")
			_, _ = w.(io.ReaderFrom).ReadFrom(struct{ io.Reader }{strings.NewReader("0123456789")})
			return
		case "/short":
			w.Header().Set("Content-Length", "10")
			_, _ = io.WriteString(w, "01234")
			return
		case "/head":
			_, _ = io.WriteString(w, "no body for HEAD")
			return
		case "/204", "/304":
			code := map[string]int{"/204": 204, "/304": 304}[r.URL.Path]
			w.WriteHeader(code)
			if _, err := io.WriteString(w, "body"); !errors.Is(err, http.ErrBodyNotAllowed) {
				panic(fmt.Sprintf("write on %d: %v", code, err))
			}
			return
		}
		_, _ = io.WriteString(w, "next")
	}))
	t.Cleanup(srv.Close)
	next := "GET /next HTTP/1.1\r\nHost: a\r\n\r\n"
	for _, path := range []string{"/inject", "/long-write", "/long-readfrom", "/204", "/304"} {
		t.Run(path, func(t *testing.T) {
			// /long-readfrom: net/http sends the first 512 bytes through
			// Write, which refuses them; ReadFrom must not hand an
			// unbounded source to the connection ("56789" would start the
			// next answer).
			c := h1DialWrite(t, srv, "GET "+path+" HTTP/1.1\r\nHost: a\r\n\r\n"+next)
			a := readAnswers(t, bufio.NewReader(c), 2)
			if a[0].resp.Header.Get("X-Evil") != "" || a[0].resp.Header.Get("Bad Name") != "" || a[0].resp.Header.Get("X") != "" {
				t.Fatalf("injected fields: %q", a[0].resp.Header)
			}
			if strings.HasPrefix(path, "/long") && a[0].body != "01234" {
				t.Fatalf("body %q past its Content-Length", a[0].body)
			}
			if a[1].body != "next" {
				t.Fatalf("the next answer on the connection: %d %q", a[1].resp.StatusCode, a[1].body)
			}
		})
	}
	t.Run("HEAD", func(t *testing.T) {
		c := h1DialWrite(t, srv, "HEAD /head HTTP/1.1\r\nHost: a\r\n\r\n"+next)
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodHead})
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("HEAD: %v %v", resp, err)
		}
		if a := readAnswers(t, br, 1); a[0].body != "next" {
			t.Fatalf("after HEAD: %q", a[0].body)
		}
	})
	t.Run("short body", func(t *testing.T) {
		br := bufio.NewReader(h1DialWrite(t, srv, "GET /short HTTP/1.1\r\nHost: a\r\n\r\n"+next))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadAll(resp.Body); err == nil {
			t.Fatal("a body short of its Content-Length read as complete")
		}
	})
}

// HTTP/1.0: keep-alive is kept only when asked for and the length is
// known; a longer body ends with the connection.
func TestH1ServerHTTP10(t *testing.T) {
	srv := serveForTest(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := 10
		if r.URL.Path == "/big" {
			n = 3 * lengthProbe
		}
		_, _ = io.WriteString(w, strings.Repeat("b", n))
		if r.URL.Path == "/big" {
			w.(http.Flusher).Flush()
		}
	}))
	t.Cleanup(srv.Close)
	ka := "Connection: keep-alive\r\n"
	br := bufio.NewReader(h1DialWrite(t, srv, "GET /small HTTP/1.0\r\n"+ka+"\r\nGET /small HTTP/1.0\r\n"+ka+"\r\n"))
	a := readAnswers(t, br, 2)
	if a[0].resp.ContentLength != 10 || a[0].resp.Close || len(a[1].body) != 10 {
		t.Fatalf("keep-alive HTTP/1.0: %+v, then %q", a[0].resp, a[1].body)
	}
	br = bufio.NewReader(h1DialWrite(t, srv, "GET /big HTTP/1.0\r\n"+ka+"\r\n"))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil || len(b) != 3*lengthProbe || resp.ContentLength != -1 || resp.Header.Get("Connection") == "keep-alive" {
		t.Fatalf("close-delimited HTTP/1.0: %d bytes, %v, %+v", len(b), err, resp)
	}
	br = bufio.NewReader(h1DialWrite(t, srv, "GET /small HTTP/1.0\r\n\r\n"))
	readAnswers(t, br, 1)
	if !h1Closed(br) {
		t.Fatal("HTTP/1.0 without keep-alive left open")
	}
}

// A body the handler leaves unread is drained (up to maxUnreadBody) so
// the next request is served; a larger one closes the connection.
func TestH1ServerUnreadBody(t *testing.T) {
	srv := serveForTest(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "answered:"+r.URL.Path)
	}))
	t.Cleanup(srv.Close)
	small := strings.Repeat("s", 1000)
	br := bufio.NewReader(h1DialWrite(t, srv, "POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n"+small+
		"POST /b HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3e8\r\n"+small+"\r\n0\r\n\r\n"+
		"GET /c HTTP/1.1\r\nHost: a\r\n\r\n"))
	a := readAnswers(t, br, 3)
	if a[2].body != "answered:/c" {
		t.Fatalf("after unread bodies: %q", a[2].body)
	}
	c := h1Dial(t, srv)
	go func() {
		_, _ = io.WriteString(c, "POST /big HTTP/1.1\r\nHost: a\r\nContent-Length: 400000\r\n\r\n")
		_, _ = io.WriteString(c, strings.Repeat("b", 400000))
	}()
	br = bufio.NewReader(c)
	a = readAnswers(t, br, 1)
	if !a[0].resp.Close || !h1Closed(br) {
		t.Fatalf("an unread body past maxUnreadBody kept the connection: %+v", a[0].resp)
	}
}

// At the end of the drain, shutdown closes the connections still
// serving; a handler waiting on its request's context (a queued request,
// a slow origin) must learn of it, or shutdown waits for it for good
// (net/http's Shutdown returns at its deadline whatever the handlers do).
func TestH1ServerShutdownEndsWaitingHandlers(t *testing.T) {
	for _, tc := range []struct{ name, raw string }{
		{name: "no body: the background read sees the close",
			raw: "GET /queued HTTP/1.1\r\nHost: a\r\n\r\n"},
		{name: "unread body: nothing watches the connection",
			raw: "POST /queued HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			release := make(chan struct{})
			started := make(chan struct{}, 1)
			srv := serveForTest(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				started <- struct{}{}
				select {
				case <-r.Context().Done():
				case <-release:
				}
			}))
			_ = h1DialWrite(t, srv, tc.raw)
			<-started
			done := make(chan struct{})
			go func() { srv.Close(); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Error("shutdown still waits for a handler whose connection it closed")
				close(release)
				<-done
			}
		})
	}
}

// A connection keeps its head reader's scratch space between requests;
// one head of many tiny fields must not leave it holding a large part of
// what net/http frees after each request.
func TestH1ServerHeadScratchIsBounded(t *testing.T) {
	big := "GET / HTTP/1.1\r\nHost: a\r\n" + strings.Repeat("a:\r\n", 16000) + "\r\n"
	small := "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
	hr := headReader{br: bufio.NewReaderSize(strings.NewReader(big+small), serverBufSize), limit: maxClientHead + 4096}
	for range 2 {
		var r http.Request
		if _, err := hr.read("192.0.2.1:1", &r); err != nil {
			t.Fatal(err)
		}
	}
	kept := cap(hr.line) + cap(hr.text) + cap(hr.spans)*int(unsafe.Sizeof(fieldSpan{}))
	if kept > 32<<10 {
		t.Fatalf("head scratch keeps %d bytes after a small head", kept)
	}
}

// An idle connection must not keep its last request either: with
// 200 connections idle after one 64 KiB head of 16000 "a:" fields each,
// this server held ~1.85 MiB per connection (h1ServerConn.req keeps the
// Header map, its values and the head's text), net/http ~9 KiB.
func TestH1ServerIdleConnKeepsNoRequest(t *testing.T) {
	s := &h1Server{
		h:      http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }),
		logger: slog.New(slog.DiscardHandler),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.serve(ctx, ln, 200*time.Millisecond) }()
	defer func() { cancel(); <-served }()
	c := h1DialWrite(t, &testServer{Listener: ln}, "GET / HTTP/1.1\r\nHost: a\r\n"+strings.Repeat("a:\r\n", 16000)+"\r\n")
	readAnswers(t, bufio.NewReader(c), 1)
	for range 500 { // bounds a broken test only
		s.mu.Lock()
		for sc := range s.conns {
			if http.ConnState(sc.state.Load()) == http.StateIdle {
				held := sc.req.Header != nil
				s.mu.Unlock()
				if held {
					t.Fatal("an idle connection keeps its last request's Header")
				}
				return
			}
		}
		s.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the connection never went idle")
}

// "OPTIONS *" is answered by the server itself; a head whose framing the
// gateway refuses (Transfer-Encoding with Content-Length, or in HTTP/1.0)
// must still end the connection there, or what the client sent as its
// body is read as the next request.
func TestH1ServerOptionsStarRefusedFraming(t *testing.T) {
	p := &h1Paths{}
	srv := serveForTest(t, p)
	t.Cleanup(srv.Close)
	smuggled := "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n"
	for _, head := range []string{
		fmt.Sprintf("OPTIONS * HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n", len(smuggled)),
		"OPTIONS * HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n",
	} {
		c := h1DialWrite(t, srv, head+smuggled)
		br := bufio.NewReader(c)
		for range 2 {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				break
			}
			_, _ = io.Copy(io.Discard, resp.Body)
		}
		c.Close()
	}
	for _, path := range p.seen() {
		if path == "/smuggled" {
			t.Fatalf("the body of a refused OPTIONS * head was served as a request: %q", p.seen())
		}
	}
}

// The same through the gateway: the smuggled request reaches the origin.
func TestH1ServerOptionsStarRefusedFramingGateway(t *testing.T) {
	o := newRecordingOrigin(t)
	h := framingHarness(t, o, "")
	smuggled := "GET /api/smuggled HTTP/1.1\r\nHost: gw\r\n\r\n"
	c := h.dialRaw(t)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.WriteString(c, fmt.Sprintf("OPTIONS * HTTP/1.1\r\nHost: gw\r\nContent-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n", len(smuggled))+smuggled)
	br := bufio.NewReader(c)
	for range 2 {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			break
		}
		_, _ = io.Copy(io.Discard, resp.Body)
	}
	for _, s := range o.seen() {
		if s.path == "/api/smuggled" {
			t.Fatal("a request smuggled in the body of a refused OPTIONS * head reached the origin")
		}
	}
}

// Trailer lines are dropped, but only after they parse as fields, as
// net/http's (textproto) reader requires: a line it rejects here ends
// the body with an error, so no peer that reads trailers another way can
// see a request in them that this server swallowed.
func TestH1ServerTrailerLines(t *testing.T) {
	p := &h1Paths{}
	srv := serveForTest(t, p)
	t.Cleanup(srv.Close)
	head := "POST /t HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n"
	for _, trailer := range []string{
		"GET /smuggled HTTP/1.1\r\n\r\n",
		"\r\r\n\r\n",
		" x: y\r\n\r\n",
		"X: a\x00b\r\n\r\n",
	} {
		br := bufio.NewReader(h1DialWrite(t, srv, head+trailer))
		a := readAnswers(t, br, 1)
		if a[0].resp.StatusCode != http.StatusBadRequest || !h1Closed(br) {
			t.Errorf("trailer %q: %d %q, want the body to fail (400) and the connection closed", trailer, a[0].resp.StatusCode, a[0].body)
		}
	}
}

// A request asking to close ends the connection: what was pipelined
// behind it is never served.
func TestH1ServerCloseStopsPipeline(t *testing.T) {
	p := &h1Paths{}
	srv := serveForTest(t, p)
	t.Cleanup(srv.Close)
	for _, first := range []string{
		"GET /first HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
		"GET /first HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, CLOSE\r\n\r\n",
		"GET /first HTTP/1.0\r\n\r\n",
		"POST /first HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx",
	} {
		br := bufio.NewReader(h1DialWrite(t, srv, first+"GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n"))
		readAnswers(t, br, 1)
		if !h1Closed(br) {
			t.Fatalf("%q: connection left open", first)
		}
	}
	for _, path := range p.seen() {
		if path == "/smuggled" {
			t.Fatalf("served after Connection: close: %q", p.seen())
		}
	}
}

// An interim answer (103) carries no framing fields: net/http leaves out
// Content-Length and Transfer-Encoding, which a client could otherwise
// take for the final answer's framing.
func TestH1ServerInterimHasNoFraming(t *testing.T) {
	srv := serveForTest(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "2")
		w.Header().Set("Link", "</a.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	br := bufio.NewReader(h1DialWrite(t, srv, "GET / HTTP/1.1\r\nHost: a\r\n\r\n"))
	tp := textproto.NewReader(br)
	status, err := tp.ReadLine()
	if err != nil || !strings.HasPrefix(status, "HTTP/1.1 103") {
		t.Fatalf("first line %q %v", status, err)
	}
	h, err := tp.ReadMIMEHeader()
	if err != nil {
		t.Fatal(err)
	}
	if h.Get("Link") == "" {
		t.Fatalf("103 without its Link: %q", h)
	}
	if _, ok := h["Content-Length"]; ok {
	}
}

// A handler still reading the request body when its answer starts (a
// proxy streaming an upload while the origin already answers) must get
// the whole body or an error, never a clean EOF short of it: net/http
// fails later reads (ErrBodyReadAfterClose) after it drains, or leaves
// the body alone with EnableFullDuplex.
func TestH1ServerBodyReadAfterAnswerStarts(t *testing.T) {
	const size = 4000
	type result struct {
		n   int
		err error
	}
	for _, duplex := range []bool{false, true} {
		t.Run(fmt.Sprintf("duplex=%v", duplex), func(t *testing.T) {
			res := make(chan result, 1)
			srv := serveForTest(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				rc := http.NewResponseController(w)
				if duplex {
					_ = rc.EnableFullDuplex()
				}
				first := make([]byte, 10)
				n, err := io.ReadFull(r.Body, first)
				if err == nil {
					w.WriteHeader(200)
					_ = rc.Flush()
					var m int64
					m, err = io.Copy(io.Discard, r.Body)
					n += int(m)
				}
				res <- result{n, err}
			}))
			c := h1DialWrite(t, srv, fmt.Sprintf("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n%s", size, strings.Repeat("u", size)))
			r := <-res
			c.Close()
			srv.Close()
			if r.err == nil && r.n != size {
				t.Fatalf("duplex %v: the body read %d of %d bytes and ended without an error", duplex, r.n, size)
			}
		})
	}
}

// net/http's Transport and its HTTP/2 client (stdTransport: forward
// proxies, h2, h2c origins) read the request body on their own goroutine
// while the handler already copies the origin's answer. The server's
// settling of an unread body at the answer's head then reads the same
// body on the handler's goroutine: net/http's body has a mutex for this;
// serverBody and the connection's bufio.Reader have none. Run with -race.
func TestH1ServerBodyReadConcurrentWithAnswer(t *testing.T) {
	srv := serveForTest(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		done := make(chan struct{})
		go func() { // as a transport's body writer
			defer close(done)
			buf := make([]byte, 64)
			for {
				if _, err := r.Body.Read(buf); err != nil {
					return
				}
				time.Sleep(time.Millisecond)
			}
		}()
		time.Sleep(2 * time.Millisecond)
		w.WriteHeader(200) // the origin answered early
		_ = http.NewResponseController(w).Flush()
		<-done
	}))
	t.Cleanup(srv.Close)
	c := h1DialWrite(t, srv, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 20000\r\n\r\n"+strings.Repeat("u", 20000))
	readAnswers(t, bufio.NewReader(c), 1)
}
