package connlimit

import (
	"container/list"
	"net"
	"net/http"
)

// ConnState is an http.Server ConnState hook. With it, a client that finds
// the listener at its cap does not wait for an idle keep-alive connection to
// time out: the connection idle the longest is closed to make room, as nginx
// reuses keep-alive connections when worker_connections run out. Without
// it, idle connections hold their slots until the server's IdleTimeout.
func (l *Listener) ConnState(nc net.Conn, state http.ConnState) {
	c, ok := unwrapConn(nc)
	if !ok || c.l != l {
		return
	}
	l.idleMu.Lock()
	defer l.idleMu.Unlock()
	if c.idleAt != nil {
		l.idle.Remove(c.idleAt)
		c.idleAt = nil
	}
	if state == http.StateIdle {
		c.idleAt = l.idle.PushBack(c)
		select {
		case l.becameIdle <- struct{}{}:
		default:
		}
	}
}

// evictIdle closes the connection idle the longest, if there is one; its
// slot is free when this returns.
func (l *Listener) evictIdle() bool {
	l.idleMu.Lock()
	front := l.idle.Front()
	var c *conn
	if front != nil {
		c = l.idle.Remove(front).(*conn)
		c.idleAt = nil
	}
	l.idleMu.Unlock()
	if c == nil {
		return false
	}
	l.evictions.Add(1)
	if suppressed, ok := l.evictWarner.allow(); ok {
		l.log.Warn("connection cap reached; closing idle keep-alive connections to make room",
			"listener", l.name, "max_connections", l.max, "suppressed_since_last_warning", suppressed)
	}
	_ = c.Close()
	return true
}

// forget drops a closed connection from the idle list.
func (l *Listener) forget(c *conn) {
	l.idleMu.Lock()
	if c.idleAt != nil {
		l.idle.Remove(c.idleAt)
		c.idleAt = nil
	}
	l.idleMu.Unlock()
}

// idleList is the part of Listener that tracks idle connections.
type idleList struct {
	idle        list.List // of *conn, longest idle first
	evictWarner warner
	// becameIdle wakes an Accept waiting at the cap.
	becameIdle chan struct{}
}

// unwrapConn finds this package's conn under wrappers that expose the
// connection they wrap with NetConn (as crypto/tls does), so a server whose
// listener wraps ours again (the gateway's framing check) still reports idle
// connections.
func unwrapConn(nc net.Conn) (*conn, bool) {
	for range 8 { // wrappers nest a few deep at most; never loop on a cycle
		if c, ok := nc.(*conn); ok {
			return c, true
		}
		w, ok := nc.(interface{ NetConn() net.Conn })
		if !ok {
			return nil, false
		}
		nc = w.NetConn()
	}
	return nil, false
}
