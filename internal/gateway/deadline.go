package gateway

import "time"

// net/http changes a connection's deadlines up to seven times per request
// (before and after reading the head, around its background read, for the
// idle wait and the next head), each a timer update in the runtime under
// the poller's lock. Most of them are undone before any read could notice
// them. The framingConn keeps the read deadline as set and gives it to the
// connection only before a read (or at once while a read is under way,
// so a deadline still interrupts it); a deadline is a point in time, so
// giving it late changes nothing a read can see. A write deadline is
// passed on only when it differs from the one the connection has.

// SetReadDeadline notes t; see above.
func (c *framingConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.readDL = t
	if c.bgParked && !t.IsZero() {
		// net/http ends its background read with a deadline in the past;
		// any other deadline is a real read's to honour.
		if t.After(time.Now()) {
			c.wakeBackgroundReadLocked(wakePromote)
		} else {
			c.wakeBackgroundReadLocked(wakeDeadline)
		}
	}
	if c.reading {
		return c.applyReadDeadlineLocked()
	}
	return nil
}

// SetWriteDeadline passes t on unless the connection has it already.
func (c *framingConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.Equal(c.appliedWrite) {
		return nil
	}
	c.appliedWrite = t
	return c.Conn.SetWriteDeadline(t)
}

func (c *framingConn) SetDeadline(t time.Time) error {
	err := c.SetReadDeadline(t)
	if werr := c.SetWriteDeadline(t); err == nil {
		err = werr
	}
	return err
}

// applyReadDeadlineLocked gives the connection the read deadline last
// set; c.mu is held.
func (c *framingConn) applyReadDeadlineLocked() error {
	if c.readDL.Equal(c.appliedRead) {
		return nil
	}
	c.appliedRead = c.readDL
	return c.Conn.SetReadDeadline(c.readDL)
}

// Close also ends a parked background read.
func (c *framingConn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.wakeBackgroundReadLocked(wakeClosed)
	c.mu.Unlock()
	return c.Conn.Close()
}

// forceReadDeadline gives t to the connection at once, whether or not a
// read is marked under way (the own server ends its watch read with it).
func (c *framingConn) forceReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.readDL = t
	return c.applyReadDeadlineLocked()
}

// readDeadlineOr sets t as the read deadline when none is set.
func (c *framingConn) readDeadlineOr(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.readDL.IsZero() {
		c.readDL = t
		if c.reading {
			_ = c.applyReadDeadlineLocked()
		}
	}
}
