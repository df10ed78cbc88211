package connlimit

import (
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
	l.unlink(c)
	if state == http.StateIdle {
		l.pushBack(c)
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
	c := l.oldest
	if c != nil {
		l.unlink(c)
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
	l.unlink(c)
	l.idleMu.Unlock()
}

// idleList is the part of Listener that tracks idle connections: a list
// threaded through the connections themselves (conn.idlePrev/idleNext),
// so a keep-alive request going idle again allocates nothing (a
// container/list element per request did).
type idleList struct {
	oldest, newest *conn // guarded by Listener.idleMu
	evictWarner    warner
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

// pushBack appends c as the newest idle connection; under idleMu.
func (l *idleList) pushBack(c *conn) {
	c.idle, c.idlePrev, c.idleNext = true, l.newest, nil
	if l.newest != nil {
		l.newest.idleNext = c
	} else {
		l.oldest = c
	}
	l.newest = c
}

// unlink takes c off the idle list when it is on it; under idleMu.
func (l *idleList) unlink(c *conn) {
	if !c.idle {
		return
	}
	if c.idlePrev != nil {
		c.idlePrev.idleNext = c.idleNext
	} else {
		l.oldest = c.idleNext
	}
	if c.idleNext != nil {
		c.idleNext.idlePrev = c.idlePrev
	} else {
		l.newest = c.idlePrev
	}
	c.idle, c.idlePrev, c.idleNext = false, nil, nil
}
