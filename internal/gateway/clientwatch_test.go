package gateway

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"
)

// pipeH1Conn is an origin connection whose far end the test holds.
func pipeH1Conn(t *testing.T) (*h1Conn, net.Conn) {
	t.Helper()
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	pc := &h1Conn{Conn: a, headBudget: -1}
	pc.br = bufio.NewReader(pc)
	return pc, b
}

// blockedRead reports what a read of pc returns once something wakes it.
func blockedRead(pc *h1Conn) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := pc.Read(make([]byte, 1))
		done <- err
	}()
	return done
}

func requestWithWatch(fc *framingConn) context.Context {
	ctx := context.WithValue(context.Background(), framingConnKey{}, fc)
	fc.watch.reqCtx = ctx
	return ctx
}

func TestClientWatchWakesTheOriginRead(t *testing.T) {
	fc := &framingConn{}
	ctx := requestWithWatch(fc)
	pc, _ := pipeH1Conn(t)
	w := watchClient(ctx, pc, false)
	if w.cw == nil {
		t.Fatal("the request's own context did not use the client watch")
	}
	done := blockedRead(pc)
	fc.watch.clientReadFailed(os.ErrDeadlineExceeded) // net/http stopping its background read
	select {
	case err := <-done:
		t.Fatalf("a timeout on the client connection woke the origin read: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	fc.watch.clientReadFailed(io.EOF) // the client left
	if err := <-done; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("origin read ended with %v, want a deadline in the past", err)
	}
	if w.stop() {
		t.Error("stop reports the connection live after the client left")
	}
}

func TestClientWatchStopKeepsTheConnection(t *testing.T) {
	fc := &framingConn{}
	ctx := requestWithWatch(fc)
	pc, _ := pipeH1Conn(t)
	w := watchClient(ctx, pc, false)
	if !w.stop() {
		t.Fatal("stop without a client failure reports the connection dead")
	}
	fc.watch.clientReadFailed(io.EOF) // after the exchange: nothing to wake
	_ = pc.SetReadDeadline(time.Now().Add(time.Hour))
	done := blockedRead(pc)
	select {
	case err := <-done:
		t.Fatalf("a client failure after stop woke the connection: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
}

func TestClientWatchClientAlreadyGone(t *testing.T) {
	fc := &framingConn{}
	ctx := requestWithWatch(fc)
	fc.watch.clientReadFailed(io.ErrUnexpectedEOF)
	pc, _ := pipeH1Conn(t)
	w := watchClient(ctx, pc, false)
	if err := <-blockedRead(pc); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("origin read ended with %v, want a deadline in the past", err)
	}
	if w.stop() {
		t.Error("stop reports the connection live")
	}
}

// Anything but the request's own context, an upgrade, or a second
// exchange at once falls back to context.AfterFunc.
func TestClientWatchFallsBackToAfterFunc(t *testing.T) {
	fc := &framingConn{}
	ctx := requestWithWatch(fc)
	pc1, _ := pipeH1Conn(t)
	pc2, _ := pipeH1Conn(t)
	first := watchClient(ctx, pc1, false)
	derived, cancel := context.WithCancel(ctx)
	for name, w := range map[string]upstreamWatch{
		"second exchange": watchClient(ctx, pc2, false),
		"upgrade":         watchClient(ctx, pc2, true),
		"derived context": watchClient(derived, pc2, false),
		"no framingConn":  watchClient(context.Background(), pc2, false),
	} {
		if w.cw != nil {
			t.Errorf("%s used the client watch", name)
		}
		w.stop()
	}
	cancel()
	first.stop()
	// The AfterFunc path still wakes the read when its context ends.
	ctx2, cancel2 := context.WithCancel(context.Background())
	w := watchClient(ctx2, pc2, false)
	done := blockedRead(pc2)
	cancel2()
	if err := <-done; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("origin read ended with %v", err)
	}
	if w.stop() {
		t.Error("stop reports the connection live after its context ended")
	}
}

// End to end: a client that leaves while the origin holds its answer makes
// the gateway drop the origin connection (the origin's read ends).
func TestClientLeavingClosesTheOriginExchange(t *testing.T) {
	originSawClose := make(chan struct{})
	o := newRawOrigin(t, func(o *rawOrigin, c net.Conn, br *bufio.Reader, _ int) {
		if _, ok := o.read(br); ok {
			// Blocks until the gateway closes the connection; bounded, so a
			// gateway that never does fails the test instead of hanging it.
			_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
			if _, err := br.ReadByte(); !errors.Is(err, os.ErrDeadlineExceeded) {
				close(originSawClose)
			}
		}
	})
	h := rawHarnessBackend(t, o, "      timeout: 1h\n      ttfb_timeout: 1h\n")
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.srv.URL+"/x", nil)
	errc := make(chan error, 1)
	go func() {
		resp, err := h.client.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	// Leave once the origin has read the request. An accepted connection
	// is not enough (a 20 ms sleep after it was the margin): a client that
	// left before the request was written never reached the origin's
	// watch, and the test failed on a loaded machine.
	waitFor(t, "the request at the origin", func() bool { return len(o.requests()) == 1 })
	cancel()
	<-errc
	select {
	case <-originSawClose:
	case <-time.After(10 * time.Second):
		t.Error("the gateway kept the origin exchange after its client left")
	}
}

// A failed client read is recorded on the connection before net/http
// cancels the request's context: an exchange it woke is the client's
// leaving, not the origin's failure (a half-closed client was sent a 502).
func TestClassifySeesTheClientLeaveBeforeItsContextEnds(t *testing.T) {
	fc := &framingConn{}
	ctx := context.WithValue(context.Background(), framingConnKey{}, fc)
	woken := fmt.Errorf("read: %w", os.ErrDeadlineExceeded)
	if got := classify(ctx, time.Time{}, woken); got.kind != kindBackend {
		t.Fatalf("client still there: %v, want a backend error", got.kind)
	}
	fc.watch.clientReadFailed(io.EOF)
	if got := classify(ctx, time.Time{}, woken); got.kind != kindClientGone {
		t.Fatalf("client read failed, context not yet cancelled: %v, want client_canceled", got.kind)
	}
}

// A client that leaves just before its exchange starts (a queued request
// given its slot as its own read fails) is seen by watchClient, which sets
// the deadline in the past; the exchange's ttfb deadline, set after it,
// must not undo that, or the exchange waits for the origin's answer (or
// the ttfb) with nobody to send it to, holding its max_connections slot.
func TestClientWatchGoneBeforeTheExchangeDeadlines(t *testing.T) {
	fc := &framingConn{}
	ctx := requestWithWatch(fc)
	fc.watch.clientReadFailed(io.EOF)
	pc, origin := pipeH1Conn(t)
	go func() { _, _ = io.Copy(io.Discard, origin) }() // reads the request, never answers
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://origin/x", nil)
	done := make(chan error, 1)
	go func() {
		_, err := (&h1Pool{}).exchange(ctx, pc, req, requestLimits{ttfb: time.Hour}, false, nil)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("exchange ended with %v, want the wake's deadline", err)
		}
	case <-time.After(10 * time.Second): // only keeps the broken case from hanging
		t.Fatal("the exchange still waits for the origin after its client left")
	}
}

// The same with the client leaving while the exchange runs, after any
// deadline it sets: a later deadline keeps the connection woken.
func TestClientWatchWakeOutlastsLaterDeadlines(t *testing.T) {
	fc := &framingConn{}
	ctx := requestWithWatch(fc)
	pc, _ := pipeH1Conn(t)
	w := watchClient(ctx, pc, false)
	fc.watch.clientReadFailed(io.EOF)
	_ = pc.SetDeadline(time.Now().Add(time.Hour))
	_ = pc.SetReadDeadline(time.Time{})
	select {
	case err := <-blockedRead(pc):
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("origin read ended with %v, want a deadline in the past", err)
		}
	case <-time.After(10 * time.Second): // only keeps the broken case from hanging
		t.Fatal("a later deadline undid the wake")
	}
	if w.stop() {
		t.Error("stop reports the connection live")
	}
}
