package gateway

import (
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"
)

// readCountingConn counts what reaches the socket under a framingConn.
type readCountingConn struct {
	net.Conn
	reads, readDeadlines atomic.Int32
}

func (c *readCountingConn) Read(p []byte) (int, error) {
	c.reads.Add(1)
	return c.Conn.Read(p)
}

func (c *readCountingConn) SetReadDeadline(t time.Time) error {
	c.readDeadlines.Add(1)
	return c.Conn.SetReadDeadline(t)
}

// newParkingConn is a framingConn between two request heads over one end
// of a pipe; the other end plays the client.
func newParkingConn(t *testing.T, tick time.Duration) (*framingConn, *readCountingConn, net.Conn) {
	t.Helper()
	server, client := net.Pipe()
	t.Cleanup(func() { server.Close(); client.Close() })
	cc := &readCountingConn{Conn: server}
	set := &parkedSet{every: tick, quit: make(chan struct{})}
	t.Cleanup(func() { close(set.quit) })
	fc := &framingConn{Conn: cc, parked: set}
	fc.startHead()
	return fc, cc, client
}

type readResult struct {
	n   int
	b   byte
	err error
}

// backgroundRead starts the one-byte read net/http keeps while a handler
// runs and waits until it is parked.
func backgroundRead(t *testing.T, fc *framingConn) <-chan readResult {
	t.Helper()
	done := make(chan readResult, 1)
	go func() {
		var b [1]byte
		n, err := fc.Read(b[:])
		done <- readResult{n, b[0], err}
	}()
	for i := 0; ; i++ {
		fc.mu.Lock()
		parked := fc.bgParked
		fc.mu.Unlock()
		if parked {
			return done
		}
		if i == 10000 {
			t.Fatal("the background read never parked")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestBackgroundReadEndsAsNetHTTPExpectsWithoutTheSocket(t *testing.T) {
	fc, cc, _ := newParkingConn(t, time.Hour)
	done := backgroundRead(t, fc)
	// net/http's abortPendingRead: a deadline in the past, then none.
	_ = fc.SetReadDeadline(aLongTimeAgo)
	r := <-done
	var ne net.Error
	if r.n != 0 || !errors.Is(r.err, os.ErrDeadlineExceeded) || !errors.As(r.err, &ne) || !ne.Timeout() {
		t.Fatalf("read = %d, %v; want 0 and a net.Error timeout (net/http ignores only that)", r.n, r.err)
	}
	_ = fc.SetReadDeadline(time.Time{})
	if n, d := cc.reads.Load(), cc.readDeadlines.Load(); n != 0 || d != 0 {
		t.Fatalf("the socket saw %d reads and %d deadline changes, want none", n, d)
	}
	if fc.watch.gone.Load() {
		t.Fatal("net/http ending its own read was taken for the client leaving")
	}
}

func TestBackgroundReadTurnsRealAfterATick(t *testing.T) {
	fc, cc, client := newParkingConn(t, time.Millisecond)
	done := backgroundRead(t, fc)
	// The pipe's write returns only once the promoted read has taken it.
	if _, err := client.Write([]byte("G")); err != nil {
		t.Fatal(err)
	}
	if r := <-done; r.n != 1 || r.b != 'G' || r.err != nil {
		t.Fatalf("read = %d %q %v, want the pipelined byte", r.n, r.b, r.err)
	}
	if cc.reads.Load() != 1 {
		t.Fatalf("socket reads = %d, want 1", cc.reads.Load())
	}
	fc.mu.Lock()
	lineBytes := fc.lineBytes
	fc.mu.Unlock()
	if lineBytes != 1 {
		t.Fatalf("the scan did not see the byte the read returned")
	}
}

func TestBackgroundReadNoticesAClientThatLeaves(t *testing.T) {
	fc, _, client := newParkingConn(t, time.Millisecond)
	done := backgroundRead(t, fc)
	client.Close()
	if r := <-done; !errors.Is(r.err, io.EOF) {
		t.Fatalf("read = %v, want EOF", r.err)
	}
	if !fc.watch.gone.Load() {
		t.Fatal("the client leaving was not noted for the origin exchange")
	}
}

func TestBackgroundReadWokenByCloseAndByALaterDeadline(t *testing.T) {
	fc, _, _ := newParkingConn(t, time.Hour)
	done := backgroundRead(t, fc)
	fc.Close()
	if r := <-done; !errors.Is(r.err, net.ErrClosed) {
		t.Fatalf("read after Close = %v", r.err)
	}

	fc, cc, client := newParkingConn(t, time.Hour)
	done = backgroundRead(t, fc)
	// A deadline in the future is a real read's to keep.
	_ = fc.SetReadDeadline(time.Now().Add(time.Hour))
	if _, err := client.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if r := <-done; r.n != 1 || r.err != nil || cc.readDeadlines.Load() != 1 {
		t.Fatalf("read = %d %v with %d deadline changes", r.n, r.err, cc.readDeadlines.Load())
	}
}

func TestReadDeadlineReachesTheSocketOnlyForARead(t *testing.T) {
	fc, cc, client := newParkingConn(t, time.Hour)
	for _, d := range []time.Time{time.Now().Add(time.Hour), aLongTimeAgo, {}} {
		_ = fc.SetReadDeadline(d)
	}
	_ = fc.SetReadDeadline(time.Now().Add(time.Hour))
	// connlimit's ConnState hook unwraps with NetConn twice a request.
	_ = fc.NetConn()
	if cc.readDeadlines.Load() != 0 {
		t.Fatalf("deadlines undone before any read reached the socket %d times", cc.readDeadlines.Load())
	}
	// A websocket tunnel reading the socket itself gets the last one.
	if fc.tunnelConn(); cc.readDeadlines.Load() != 1 {
		t.Fatalf("tunnelConn gave the socket %d deadlines, want 1", cc.readDeadlines.Load())
	}
	// One set before a read is given to the socket, and holds.
	_ = fc.SetReadDeadline(aLongTimeAgo)
	if _, err := fc.Read(make([]byte, 4096)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read = %v, want the deadline's timeout", err)
	}
	// One set while a read waits interrupts it at once.
	_ = fc.SetReadDeadline(time.Time{})
	done := make(chan error, 1)
	go func() { _, err := fc.Read(make([]byte, 4096)); done <- err }()
	if _, err := client.Write([]byte("GET")); err != nil { // the read is under way
		t.Fatal(err)
	}
	<-done
	go func() { _, err := fc.Read(make([]byte, 4096)); done <- err }()
	for {
		fc.mu.Lock()
		reading := fc.reading
		fc.mu.Unlock()
		if reading {
			break
		}
		time.Sleep(time.Millisecond)
	}
	_ = fc.SetReadDeadline(aLongTimeAgo)
	if err := <-done; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("waiting read = %v, want interrupted by the deadline", err)
	}
}

// Through net/http itself: its background read is recognised and parked
// while the origin works (a Go upgrade that changed how net/http reads
// would fail here instead of silently costing the syscalls again), and a
// request pipelined behind it while it is parked is answered in order.
func TestNetHTTPBackgroundReadIsParkedAndPipeliningWorks(t *testing.T) {
	// net/http serves the TLS listener; the plain one has its own server
	// (TestServerWatchReadKeepsAPipelinedByte).
	checkPipelinedBehindSlow(t, func(yml string) *harness { return newTLSHarness(t, yml, false) },
		&backgroundReadsParked, "net/http's background read was never parked", 0)
}
