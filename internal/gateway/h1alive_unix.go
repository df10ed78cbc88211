//go:build unix

package gateway

import (
	"crypto/tls"
	"net"
	"syscall"
)

// connAlive peeks at an idle connection without blocking: an origin that
// closed it (or sent anything unasked) has left bytes or an EOF to read.
// Only a connection with nothing to read is fit for a request that must not
// be sent twice. It costs one recvfrom, so idempotent requests skip it and
// are retried instead.
func connAlive(c net.Conn) bool {
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
		return true
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	// Control, not Read: the peek never blocks, so it needs neither the
	// poller nor the connection's deadlines (an idle connection keeps the
	// last request's).
	alive := false
	var buf [1]byte
	err = raw.Control(func(fd uintptr) {
		_, _, rerr := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		alive = rerr == syscall.EAGAIN || rerr == syscall.EWOULDBLOCK
	})
	return err == nil && alive
}
