package gateway

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"
)

// A large response body from a plain-TCP origin to a plain-TCP client
// does not need to pass through user space: net/http's response writer
// hands a body to its connection's ReadFrom once the head is out, and a
// *net.TCPConn's ReadFrom moves bytes from another TCP connection with
// splice(2) (Linux; elsewhere it copies). The gateway's body copy read
// each 64 KiB chunk into a buffer and wrote it out again: two copies
// between kernel and user space per byte, which is most of a 64 KiB
// response's CPU once the per-request costs are paid.
//
// The part of the body that arrived with the response head is already in
// the client's read buffer and goes out through the writer as before; only
// the rest is spliced. Bodies with chunked or close-delimited framing,
// TLS on either side, HTTP/2, and short remainders keep the copy loop.

// spliceMin is the smallest remainder worth splicing. Splicing costs
// syscalls of its own (into a pipe, out of it) and the part that came
// with the head still leaves in a write: a 64 KiB body cost the same CPU
// either way, a 128 KiB one 0.77x and a 1 MiB one 0.68x spliced (same
// machine, alternating runs).
const spliceMin = 64 << 10

// splicedBodies counts the bodies handed to the client connection's
// ReadFrom (tests read it to know which path a body took).
var splicedBodies atomic.Int64

// originBody is the source net/http's ReadFrom passes on to
// framingConn.ReadFrom: an io.LimitedReader over the origin's TCP
// connection, the shape TCPConn.ReadFrom splices from.
type originBody = io.LimitedReader

// tcpConnOf returns the TCP connection under the wrappers the gateway and
// the listeners put around it, or nil (TLS, a pipe, a test double).
func tcpConnOf(c net.Conn) *net.TCPConn {
	for {
		switch u := c.(type) {
		case *net.TCPConn:
			return u
		case *tls.Conn:
			return nil
		case interface{ NetConn() net.Conn }:
			c = u.NetConn()
		default:
			return nil
		}
	}
}

// ReadFrom lets net/http's response writer hand a body to the client
// connection: spliced when it comes straight from an origin's TCP
// connection, copied through a pooled buffer otherwise (what net/http did
// before this method existed, without its per-call buffer).
func (c *framingConn) ReadFrom(r io.Reader) (int64, error) {
	if err := c.flushHeld(); err != nil {
		return 0, err
	}
	if lr, ok := r.(*originBody); ok {
		if _, ok := lr.R.(*net.TCPConn); ok {
			if tc := tcpConnOf(c.Conn); tc != nil {
				return tc.ReadFrom(lr)
			}
		}
	}
	bp := bodyBufPool.Get().(*[]byte)
	defer bodyBufPool.Put(bp)
	return io.CopyBuffer(struct{ io.Writer }{c.Conn}, r, *bp)
}

// spliceTarget is the response writer's ReadFrom when the client's
// connection can take a spliced body, or nil.
func spliceTarget(w http.ResponseWriter, r *http.Request) io.ReaderFrom {
	if r.ProtoMajor != 1 || r.TLS != nil {
		return nil
	}
	fc, ok := r.Context().Value(framingConnKey{}).(*framingConn)
	if !ok || tcpConnOf(fc.Conn) == nil {
		return nil
	}
	rf, _ := w.(io.ReaderFrom)
	return rf
}

// spliceBody sends b's body to the client through rf when it is a
// Content-Length body from a plain-TCP origin with at least spliceMin
// bytes still to come. done is false when it did nothing and the copy
// loop should run. err is the origin's failure; a client that left is
// not an error, as in copyBody.
func (b *h1Body) spliceBody(w http.ResponseWriter, rf io.ReaderFrom) (done bool, err error) {
	lb, ok := b.ReadCloser.(*lengthBody)
	if !ok {
		return false, nil
	}
	src := tcpConnOf(b.pc.Conn)
	if src == nil {
		return false, nil
	}
	head := b.pc.br.Buffered()
	if lb.left-int64(head) < spliceMin {
		return false, nil
	}
	if head > 0 {
		part, _ := b.pc.br.Peek(head)
		if _, werr := w.Write(part); werr != nil {
			return true, nil
		}
		_, _ = b.pc.br.Discard(head)
		lb.left -= int64(head)
	}
	splicedBodies.Add(1)
	body := &originBody{R: src, N: lb.left}
	n, err := rf.ReadFrom(body)
	lb.left -= n
	b.pc.nread += n
	switch {
	case lb.left == 0:
		b.eof = true
		return true, nil
	case err == nil:
		return true, io.ErrUnexpectedEOF // the origin closed early
	case b.originFailed(err):
		return true, err
	}
	return true, nil
}

// originFailed tells whether a splice that failed with err failed on the
// origin's side (its deadline passed, or it closed or reset the
// connection) rather than the client's (gone, or too slow to write to):
// one error reports both directions.
func (b *h1Body) originFailed(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		// The client watch sets the origin's deadline in the past when
		// the client leaves: only a deadline actually passed is the
		// origin's.
		return !b.deadline.IsZero() && !time.Now().Before(b.deadline)
	}
	return b.pc.peeker.peerEnded()
}
