package gateway

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// writeCounter records the size of every write to the origin.
type writeCounter struct {
	mu     sync.Mutex
	writes []int
}

func (wc *writeCounter) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, wc: wc}, nil
}

func (wc *writeCounter) sizes() []int {
	wc.mu.Lock()
	defer wc.mu.Unlock()
	return append([]int(nil), wc.writes...)
}

type countingConn struct {
	net.Conn
	wc *writeCounter
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.wc.mu.Lock()
	c.wc.writes = append(c.wc.writes, len(p))
	c.wc.mu.Unlock()
	return c.Conn.Write(p)
}

// trickle hands its body out in small reads, as a client's body arrives.
type trickle struct {
	left  int
	chunk int
}

func (t *trickle) Read(p []byte) (int, error) {
	if t.left == 0 {
		return 0, io.EOF
	}
	n := min(len(p), t.chunk, t.left)
	for i := range p[:n] {
		p[i] = 'b'
	}
	t.left -= n
	return n, nil
}

// A 16 KiB upload goes upstream in one write with its head (it took six:
// the head flushed alone, then the body in 4 KiB pieces); a 1 MiB upload
// in 64 KiB writes.
func TestUploadGoesUpstreamInLargeWrites(t *testing.T) {
	var got sync.Map
	origin := newServerT(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		got.Store(r.URL.Path, n)
		_, _ = io.WriteString(w, "ok")
	}))
	for _, tc := range []struct {
		path      string
		size      int
		maxWrites int
	}{
		{"/x/16k", 16 << 10, 1},
		{"/x/1m", 1 << 20, (1<<20)/(64<<10) + 1},
	} {
		wc := &writeCounter{}
		h := newHarness(t, gatewayYAML(origin, "", "    - path: /x/**\n      proxy:\n        backend: api\n"),
			func(o *Options) { o.Dial = wc.dial })
		req, err := http.NewRequest(http.MethodPost, h.srv.URL+tc.path, &trickle{left: tc.size, chunk: 4 << 10})
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = int64(tc.size)
		resp, err := h.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(body) != "ok" {
			t.Fatalf("%s: %d %q", tc.path, resp.StatusCode, body)
		}
		if n, _ := got.Load(tc.path); n != int64(tc.size) {
			t.Fatalf("%s: origin read %v bytes, want %d", tc.path, n, tc.size)
		}
		sizes := wc.sizes()
		if len(sizes) > tc.maxWrites {
			t.Errorf("%s: %d writes upstream %v, want at most %d", tc.path, len(sizes), sizes, tc.maxWrites)
		}
	}
}

func newServerT(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + strings.TrimPrefix(ln.Addr().String(), "http://")
}

// countingListener counts the writes to every accepted connection.
type countingListener struct {
	net.Listener
	wc *writeCounter
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, wc: l.wc}, nil
}

// A 64 KiB response reaches the client in two writes (it took four: the
// 4 KiB that came with the head went out alone, then the rest in 32 KiB
// reads split again by net/http's buffer).
func TestResponseBodyReachesClientInLargeWrites(t *testing.T) {
	body := strings.Repeat("r", 64<<10)
	origin := newServerT(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = io.WriteString(w, body)
	}))
	gw, err := New(Options{Config: parseConfig(t, gatewayYAML(origin, "", "    - path: /x\n      proxy:\n        backend: api\n"))})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	wc := &writeCounter{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveHandler(ctx, countingListener{ln, wc}, gw, gw.logger, "", 200*time.Millisecond) }()
	t.Cleanup(func() { cancel(); <-done; gw.Close() })

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET /x HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(resp), body) {
		t.Fatalf("response does not end in the body: %.200q", resp)
	}
	// How the body arrives from the origin depends on scheduling (a loaded
	// machine hands the gateway smaller reads), so the count is logged
	// here and the mechanism is checked with exact reads below.
	t.Logf("%d writes to the client %v", len(wc.sizes()), wc.sizes())
}

// chunkedReader returns its chunks one per Read, as a socket does when
// the data arrives in pieces.
type chunkedReader struct{ chunks []string }

func (r *chunkedReader) Read(p []byte) (int, error) {
	if len(r.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.chunks[0])
	r.chunks[0] = r.chunks[0][n:]
	if r.chunks[0] == "" {
		r.chunks = r.chunks[1:]
	}
	return n, nil
}

// countingWriter is a ResponseWriter that records each Write's size.
type countingWriter struct {
	http.ResponseWriter
	sizes []int
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.sizes = append(w.sizes, len(p))
	return len(p), nil
}

// copyBody joins the part of the body that came with the response head
// with the next read, and writes each full buffer at once: a 64 KiB body
// read as 4 KiB + 60 KiB + 4 KiB leaves in two writes, not three or four.
func TestCopyBodyJoinsTheFirstRead(t *testing.T) {
	chunks := []string{strings.Repeat("a", 4<<10), strings.Repeat("b", 60<<10), strings.Repeat("c", 4<<10)}
	resp := &http.Response{ContentLength: 68 << 10, Body: io.NopCloser(&chunkedReader{chunks: chunks})}
	w := &countingWriter{ResponseWriter: httptest.NewRecorder()}
	if err := copyBody(w, httptest.NewRequest(http.MethodGet, "/", nil), resp); err != nil {
		t.Fatal(err)
	}
	if want := []int{64 << 10, 4 << 10}; !slices.Equal(w.sizes, want) {
		t.Errorf("writes %v, want %v", w.sizes, want)
	}
}
