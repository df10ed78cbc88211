package gateway

import (
	"context"
	"errors"
	"os"
	"sync/atomic"
	"time"
)

// A client that leaves must wake the origin exchange its request is
// waiting on. context.AfterFunc on the request's context does that, but it
// costs every request a child entry in the context (a map, a channel, a
// closure: about 500 bytes and 3 % of a proxied 22-byte GET's CPU).
//
// net/http cancels an HTTP/1 request's context for one reason while the
// handler runs: a read of the client connection failed (the background
// read that watches for a client leaving, or a body read). Those reads go
// through the framingConn, so the framingConn can do the waking itself:
// an exchange on that request's own context registers its origin
// connection in the clientWatch, and a failed client read sets that
// connection's deadline in the past, as the AfterFunc did. Everything else
// (HTTP/2, upgrades, a derived context, a second exchange at once) still
// uses context.AfterFunc.
type clientWatch struct {
	gone     atomic.Bool
	upstream atomic.Pointer[h1Conn]
	// reqCtx is the context of the request being served: set and read on
	// the handler's goroutine only.
	reqCtx context.Context
}

// clientReadFailed runs when a read of the client connection fails.
// net/http's own stop of its background read (a deadline in the past at
// the end of each request) is not a client leaving: timeouts are ignored,
// as net/http ignores them.
func (w *clientWatch) clientReadFailed(err error) {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return
	}
	w.gone.Store(true)
	if pc := w.upstream.Swap(nil); pc != nil {
		pc.wake()
	}
}

// upstreamWatch is one exchange's registration: in the client's
// clientWatch, or an AfterFunc.
type upstreamWatch struct {
	cw      *clientWatch
	pc      *h1Conn
	afterFn func() bool
}

// watchClient arranges for pc's deadline to be set in the past when the
// client of ctx's request leaves.
func watchClient(ctx context.Context, pc *h1Conn, upgrade bool) upstreamWatch {
	if fc, ok := ctx.Value(framingConnKey{}).(*framingConn); ok && !upgrade && fc.watch.reqCtx == ctx &&
		fc.watch.upstream.CompareAndSwap(nil, pc) {
		// The client may have left just before: its read failed and found
		// no connection to wake. Either that read sees pc now, or this
		// sees gone (both atomic), and the first to take pc back wakes it.
		if fc.watch.gone.Load() && fc.watch.upstream.CompareAndSwap(pc, nil) {
			pc.wake()
		}
		return upstreamWatch{cw: &fc.watch, pc: pc}
	}
	return upstreamWatch{afterFn: context.AfterFunc(ctx, pc.wake)}
}

// stop ends the watch; false means the client left and pc's deadline is
// in the past (pc is no good any more), as AfterFunc's stop.
func (u upstreamWatch) stop() bool {
	if u.cw != nil {
		return u.cw.upstream.CompareAndSwap(u.pc, nil)
	}
	return u.afterFn()
}

// clientLeft reports whether the client of ctx's request has left. A
// failed read of its connection wakes the origin exchange (clientReadFailed)
// before net/http cancels the request's context, so the exchange can fail
// while ctx.Err() is still nil: taken for the origin's failure, a half-closed
// client was sent a 502 it never asked to wait for. The connection's own
// record of the failed read settles it.
func clientLeft(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	fc, ok := ctx.Value(framingConnKey{}).(*framingConn)
	return ok && fc.watch.gone.Load()
}

// wake sets pc's deadlines in the past, and keeps them there: the client
// may leave while the exchange is between its registration and its own
// deadlines (the ttfb one, the body's), and a later deadline must not undo
// the wake, or the exchange waits for the origin (or its ttfb) with no
// client, holding its max_connections slot. A woken connection is never
// reused (stop reports false), so nothing needs a deadline of its own
// again.
func (c *h1Conn) wake() {
	c.woken.Store(true)
	_ = c.Conn.SetDeadline(aLongTimeAgo)
}

// keepWoken runs after each deadline change. With wake's store and load
// both atomic, either this load sees woken, or wake's own deadline is set
// after the change this follows: the past deadline wins either way.
func (c *h1Conn) keepWoken() {
	if c.woken.Load() {
		_ = c.Conn.SetDeadline(aLongTimeAgo)
	}
}

func (c *h1Conn) SetDeadline(t time.Time) error {
	err := c.Conn.SetDeadline(t)
	c.keepWoken()
	return err
}

func (c *h1Conn) SetReadDeadline(t time.Time) error {
	err := c.Conn.SetReadDeadline(t)
	c.keepWoken()
	return err
}

func (c *h1Conn) SetWriteDeadline(t time.Time) error {
	err := c.Conn.SetWriteDeadline(t)
	c.keepWoken()
	return err
}
