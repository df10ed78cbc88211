package gateway

import (
	"net/http"
	"sync"
)

// net/http writes a response through a 4 KiB buffer, so a body that does
// not fit leaves in two writes: the buffer (the head and the start of the
// body), then the rest. Each write is a segment the client is woken for;
// on the 64 KiB GET bench the second write cost about as much CPU as the
// whole head. nginx sends the head and a 64 KiB body in one writev.
//
// copyBody corks the client connection around its first write of a
// Content-Length body that will not fit the buffer: the connection holds
// the first write (a copy: net/http reuses its buffer) and sends it with
// the next one in a single writev; uncork, right after that write (never
// across another read from the origin), sends whatever is still held. Streamed bodies (no
// Content-Length) are never corked: their chunks must leave at once.

// maxHeld bounds what a corked connection holds: net/http's buffer.
const maxHeld = 4 << 10

var heldPool = sync.Pool{New: func() any { b := make([]byte, 0, maxHeld); return &b }}

// cork makes the next write wait for the one after it. Only the
// goroutine that writes the response calls cork, uncork and Write.
func (c *framingConn) cork() { c.holdNext = true }

// uncork ends cork and sends what is still held.
func (c *framingConn) uncork() error {
	c.holdNext = false
	return c.flushHeld()
}

func (c *framingConn) Write(p []byte) (int, error) {
	if c.holdNext || c.held != nil {
		return c.gatherWrite(p)
	}
	return c.Conn.Write(p)
}

func (c *framingConn) gatherWrite(p []byte) (int, error) {
	if c.held == nil {
		c.holdNext = false
		if len(p) > maxHeld {
			return c.Conn.Write(p)
		}
		c.held = heldPool.Get().(*[]byte)
		*c.held = append((*c.held)[:0], p...)
		return len(p), nil
	}
	held := *c.held
	defer c.releaseHeld()
	tc := tcpConnOf(c.Conn)
	if tc == nil {
		// TLS or a test double: two writes, as without cork.
		if _, err := c.Conn.Write(held); err != nil {
			return 0, err
		}
		return c.Conn.Write(p)
	}
	// WriteTo consumes the slice it is given; one over the connection's own
	// two-element array costs no allocation per write.
	c.bufs = append(c.bufArr[:0], held, p)
	n, err := c.bufs.WriteTo(tc)
	c.bufs, c.bufArr = nil, [2][]byte{} // keep no reference to p
	n -= int64(len(held))
	return int(max(0, min(n, int64(len(p))))), err
}

// flushHeld sends a held write before anything else goes out.
func (c *framingConn) flushHeld() error {
	if c.held == nil {
		return nil
	}
	defer c.releaseHeld()
	_, err := c.Conn.Write(*c.held)
	return err
}

func (c *framingConn) releaseHeld() {
	heldPool.Put(c.held)
	c.held = nil
}

// corkFor corks the client connection of r for a body of n bytes when it
// will not fit net/http's buffer, and returns the connection to uncork
// (nil: nothing to undo).
func corkFor(r *http.Request, n int64) *framingConn {
	if n <= maxHeld || r.ProtoMajor != 1 || r.TLS != nil {
		return nil // TLS would take the two writes anyway: no copy for nothing
	}
	fc, ok := r.Context().Value(framingConnKey{}).(*framingConn)
	if !ok {
		return nil
	}
	fc.cork()
	return fc
}
