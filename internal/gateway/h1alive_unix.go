//go:build unix

package gateway

import (
	"crypto/tls"
	"net"
	"syscall"
)

// idlePeeker peeks at an idle connection without blocking: an origin that
// closed it (or sent anything unasked) has left bytes or an EOF to read.
// Only a connection with nothing to read is fit for a request that must not
// be sent twice. It costs one recvfrom per reuse; what it needs (the raw
// connection, the callback) is built once per connection, not per request.
type idlePeeker struct {
	raw    syscall.RawConn
	peekFn func(fd uintptr)
	alive  bool
	buf    [1]byte
}

// newIdlePeeker returns nil where c has no file descriptor to peek at.
func newIdlePeeker(c net.Conn) *idlePeeker {
	for {
		switch u := c.(type) {
		case *tls.Conn:
			c = u.NetConn()
			continue
		case *countedConn:
			c = u.Conn
			continue
		}
		break
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	p := &idlePeeker{raw: raw}
	p.peekFn = p.peek
	return p
}

func (p *idlePeeker) peek(fd uintptr) {
	_, _, err := syscall.Recvfrom(int(fd), p.buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	p.alive = err == syscall.EAGAIN || err == syscall.EWOULDBLOCK
}

// connAlive reports whether the idle connection has nothing to read. Control,
// not Read: the peek never blocks, so it needs neither the poller nor the
// connection's deadlines (an idle connection keeps the last request's).
func (p *idlePeeker) connAlive() bool {
	if p == nil {
		return true
	}
	p.alive = false
	err := p.raw.Control(p.peekFn)
	return err == nil && p.alive
}

// peerEnded reports whether the origin closed or reset the connection: a
// peek finds its end, or fails. Bytes waiting, or none yet, mean the
// origin's side is fine.
func (p *idlePeeker) peerEnded() bool {
	if p == nil {
		return true
	}
	var ended bool
	err := p.raw.Control(func(fd uintptr) {
		n, _, err := syscall.Recvfrom(int(fd), p.buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		ended = n == 0 && err == nil || err != nil && err != syscall.EAGAIN && err != syscall.EWOULDBLOCK
	})
	return err != nil || ended
}
