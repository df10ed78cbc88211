package connlimit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/backline/backline/internal/testutil"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// waitFor polls cond; the bound only keeps a broken build from hanging.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 500 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("gave up waiting for %s", what)
}

// countingListener counts the connections the capped listener hands out
// until their Close (which frees the slot) starts, and keeps the highest
// count.
type countingListener struct {
	net.Listener
	live, peak atomic.Int64
}

func (c *countingListener) Accept() (net.Conn, error) {
	conn, err := c.Listener.Accept()
	if err != nil {
		return nil, err
	}
	n := c.live.Add(1)
	for p := c.peak.Load(); n > p && !c.peak.CompareAndSwap(p, n); p = c.peak.Load() {
	}
	return &countedConn{Conn: conn, live: &c.live}, nil
}

type countedConn struct {
	net.Conn
	live *atomic.Int64
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.live.Add(-1) })
	return c.Conn.Close()
}

// serve runs an HTTP server on a capped loopback listener and reports the
// most connections it ever held at once.
func serve(t *testing.T, max int) (l *Listener, url string, peak *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l = Wrap(ln, Options{Name: "test", MaxConnections: max})
	counting := &countingListener{Listener: l}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }),
	}
	done := make(chan struct{})
	go func() { _ = srv.Serve(counting); close(done) }()
	t.Cleanup(func() { _ = srv.Close(); <-done })
	return l, "http://" + ln.Addr().String() + "/", &counting.peak
}

func get(client *http.Client, url string) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.ReadAll(resp.Body)
	return err
}

// Idle keep-alive connections hold their slots: with a cap of 2, a third
// client waits in the backlog (it is not refused) and is served as soon as
// one of the first two goes away.
func TestCapServesAtMostNConnections(t *testing.T) {
	l, url, peak := serve(t, 2)
	var clients []*http.Client
	for i := range 2 {
		c := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
		t.Cleanup(c.CloseIdleConnections)
		if err := get(c, url); err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		clients = append(clients, c)
	}
	third := &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}
	t.Cleanup(third.CloseIdleConnections)
	result := make(chan error, 1)
	go func() { result <- get(third, url) }()

	select {
	case err := <-result:
		t.Fatalf("third client answered (%v) while two idle connections hold the cap", err)
	case <-time.After(300 * time.Millisecond):
	}
	if l.Open() != 2 {
		t.Errorf("open connections %d, want 2", l.Open())
	}
	clients[0].CloseIdleConnections()
	if err := <-result; err != nil {
		t.Fatalf("third client after a slot freed: %v", err)
	}
	if p := peak.Load(); p != 2 {
		t.Errorf("at most %d connections were served at once, want 2", p)
	}
}

// Many clients at once against a cap of 3: every one is served, never more
// than 3 at the same time.
func TestCapUnderConcurrentClients(t *testing.T) {
	l, url, peak := serve(t, 3)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
			errs <- get(c, url)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if p := peak.Load(); p > 3 || p < 1 {
		t.Errorf("peak %d connections, want 1..3", p)
	}
	waitFor(t, "all slots back", func() bool { return l.Open() == 0 })
}

// failingListener fails n accepts with err, then blocks until closed.
type failingListener struct {
	n      atomic.Int64
	err    error
	closed chan struct{}
	once   sync.Once
}

func (f *failingListener) Accept() (net.Conn, error) {
	if f.n.Add(-1) >= 0 {
		return nil, f.err
	}
	<-f.closed
	return nil, net.ErrClosed
}
func (f *failingListener) Close() error   { f.once.Do(func() { close(f.closed) }); return nil }
func (f *failingListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9} }

// EMFILE from accept is retried and logged at WARN, at most once per ten
// seconds, with the number of warnings left out.
func TestAcceptErrorsAreRateLimited(t *testing.T) {
	var logs testutil.LogBuffer
	inner := &failingListener{err: &net.OpError{Op: "accept", Net: "tcp", Err: syscall.EMFILE}, closed: make(chan struct{})}
	inner.n.Store(50)
	l := Wrap(inner, Options{Name: "api", MaxConnections: 4, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	l.minDelay, l.maxDelay = time.Microsecond, time.Microsecond
	clock := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	l.warner.now = func() time.Time { clock = clock.Add(time.Second); return clock } // one error a second

	done := make(chan error, 1)
	go func() { _, err := l.Accept(); done <- err }()
	waitFor(t, "50 accept errors", func() bool { return l.AcceptErrors() == 50 })
	_ = l.Close()
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close: %v", err)
	}
	out := logs.String()
	lines := strings.Count(out, `level=WARN msg="accepting a connection failed; retrying" listener=api`)
	if lines != 5 {
		t.Errorf("%d warnings for 50 errors over 50 s, want 5:\n%s", lines, out)
	}
	for _, want := range []string{"suppressed_since_last_warning=0", "suppressed_since_last_warning=9", "too many open files", "hint="} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

// Without a fake clock: a burst of errors gives exactly one line.
func TestAcceptErrorBurstLogsOnce(t *testing.T) {
	var logs testutil.LogBuffer
	inner := &failingListener{err: fmt.Errorf("accept: %w", syscall.ENFILE), closed: make(chan struct{})}
	inner.n.Store(200)
	l := Wrap(inner, Options{Name: "gateway", MaxConnections: 1, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	l.minDelay, l.maxDelay = time.Microsecond, time.Microsecond
	go func() { _, _ = l.Accept() }()
	waitFor(t, "200 accept errors", func() bool { return l.AcceptErrors() == 200 })
	_ = l.Close()
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 {
		t.Errorf("%d warnings, want 1:\n%s", n, logs.String())
	}
}

// An error that retrying cannot fix ends Accept and frees the slot.
func TestPermanentAcceptErrorIsReturned(t *testing.T) {
	inner := &failingListener{err: errors.New("listener broke"), closed: make(chan struct{})}
	inner.n.Store(1)
	l := Wrap(inner, Options{MaxConnections: 1})
	if _, err := l.Accept(); err == nil || err.Error() != "listener broke" {
		t.Fatalf("Accept: %v", err)
	}
	if l.AcceptErrors() != 0 || len(l.slots) != 0 {
		t.Errorf("errors %d, slots in use %d", l.AcceptErrors(), len(l.slots))
	}
	_ = l.Close()
}

// Close wakes an Accept that waits for a slot.
func TestCloseWakesAcceptWaitingForSlot(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := Wrap(ln, Options{MaxConnections: 1})
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waiting, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer waiting.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { _, err := l.Accept(); done <- err }()
	// The waiting client is held back, not served: it reads nothing yet.
	_ = waiting.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if n, err := waiting.Read(make([]byte, 1)); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("waiting client read %d, %v", n, err)
	}
	_ = l.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("Accept: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("Accept still waiting after Close")
	}
	// Closing the listener closed the held-back connection.
	_ = waiting.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := waiting.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("held-back connection not closed: %v", err)
	}
	_ = c.Close()
	_ = c.Close() // a second Close must not free a second slot
	if l.Open() != 0 || len(l.slots) != 0 {
		t.Errorf("open %d, slots %d after close", l.Open(), len(l.slots))
	}
}

func TestDefaultMax(t *testing.T) {
	for limit, want := range map[uint64]int{
		0: 4096, 1024: 192, 4096: 960, 65536: 4096, 1 << 62: 4096, 300: 16, 64: 16,
	} {
		if got := DefaultMax(limit); got != want {
			t.Errorf("DefaultMax(%d) = %d, want %d", limit, got, want)
		}
	}
	if !Overcommitted(1000, 1000, 2000) || Overcommitted(100, 100, 2000) || Overcommitted(1e6, 1e6, 0) {
		t.Error("Overcommitted")
	}
}

// serveEvicting is serve with the listener's ConnState hook installed, an
// idle timeout far beyond the test, and a handler that waits for release
// on /slow. peak is the most connections the listener counted as open while
// a request was handled. (Counting above the listener, as serve does, would
// see an evicted connection until the server notices it was closed.)
func serveEvicting(t *testing.T, max int, release <-chan struct{}) (l *Listener, url string, peak *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l = Wrap(ln, Options{Name: "test", MaxConnections: max})
	peak = new(atomic.Int64)
	srv := &http.Server{
		IdleTimeout: time.Hour,
		ConnState:   l.ConnState,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n := int64(l.Open())
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			if r.URL.Path == "/slow" {
				<-release
			}
			_, _ = io.WriteString(w, "ok")
		}),
	}
	done := make(chan struct{})
	go func() { _ = srv.Serve(l); close(done) }()
	t.Cleanup(func() { _ = srv.Close(); <-done })
	return l, "http://" + ln.Addr().String() + "/", peak
}

// With the ConnState hook, idle keep-alive connections cannot hold the cap
// against a new client: the one idle longest is closed to make room, and
// its client simply reconnects for its next request.
func TestIdleConnectionsMakeRoomAtTheCap(t *testing.T) {
	l, url, peak := serveEvicting(t, 2, nil)
	var clients []*http.Client
	for i := range 3 {
		c := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
		t.Cleanup(c.CloseIdleConnections)
		if err := get(c, url); err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		clients = append(clients, c)
	}
	if l.IdleEvictions() != 1 || peak.Load() != 2 {
		t.Errorf("evictions %d, peak %d; want 1, 2", l.IdleEvictions(), peak.Load())
	}
	if err := get(clients[0], url); err != nil {
		t.Errorf("the evicted client's next request: %v", err)
	}
	if peak.Load() != 2 {
		t.Errorf("peak %d, want 2", peak.Load())
	}
}

// A client waiting at the cap gets the slot of a connection as soon as that
// one finishes its request and turns idle.
func TestWaitingClientTakesConnectionThatTurnsIdle(t *testing.T) {
	release := make(chan struct{})
	l, url, _ := serveEvicting(t, 1, release)
	first := &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}
	t.Cleanup(first.CloseIdleConnections)
	firstDone := make(chan error, 1)
	go func() { firstDone <- get(first, url+"slow") }()
	waitFor(t, "the first connection", func() bool { return l.Open() == 1 })

	second := &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}
	t.Cleanup(second.CloseIdleConnections)
	secondDone := make(chan error, 1)
	go func() { secondDone <- get(second, url) }()
	select {
	case err := <-secondDone:
		t.Fatalf("second client answered (%v) while the only slot is busy", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	if err := <-firstDone; err != nil {
		t.Fatal(err)
	}
	if err := <-secondDone; err != nil {
		t.Fatalf("second client: %v", err)
	}
	if l.IdleEvictions() != 1 {
		t.Errorf("evictions %d, want 1", l.IdleEvictions())
	}
}
