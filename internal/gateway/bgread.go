package gateway

import (
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// While a handler runs, net/http keeps a one-byte "background read" on
// the client connection, to learn that the client left (a failed read
// cancels the request's context; clientwatch.go wakes the origin exchange
// from it). On a fast request that read costs more than it finds: a read
// syscall that returns EAGAIN, a netpoller registration, a goroutine park,
// and two deadline changes on the socket when net/http ends it (a read
// deadline in the past, then none). The 22-byte GET bench made five reads
// per request where nginx makes two.
//
// So the framingConn parks that read without touching the socket, and
// turns it into the real read only when the request has been running for
// a while (between one and two ticks of parkedReadTick): a client that
// leaves while its request waits on a slow origin is still noticed, tens
// of milliseconds later, and a fast request never pays for the watch.
// net/http's end of the read (a deadline in the past) wakes a parked read
// with the timeout it expects; a pipelined request's first byte stays in
// the socket until the next read, which net/http does right after.

// backgroundReadsParked counts the background reads parked; a test pins
// that net/http's read is still recognised (a Go upgrade could change it,
// which would only cost the syscalls again, silently).
var backgroundReadsParked atomic.Int64

// parkedReadTick is how often parked background reads are looked at.
const parkedReadTick = 20 * time.Millisecond

type bgWake int

const (
	wakeDeadline bgWake = iota // net/http ends the read: report a timeout
	wakePromote                // the request runs long: read for real
	wakeClosed                 // the connection was closed
)

// isBackgroundRead reports whether a read of len n is net/http's
// background read: one byte, asked for between two request heads. Every
// other read net/http makes there fills its 4 KiB buffer (bufio reads a
// whole buffer when it is empty, and it is: the scan has taken every byte
// it was given and stands at the start of a head). c.mu is held.
func (c *framingConn) isBackgroundRead(n int) bool {
	return n == 1 && c.state == scanHead && c.lineNo == 0 && c.lineBytes == 0
}

// parkBackgroundRead waits for a reason to end the background read
// without a syscall. A nil error means: read for real now.
func (c *framingConn) parkBackgroundRead() error {
	c.mu.Lock()
	switch {
	case c.closed:
		c.mu.Unlock()
		return net.ErrClosed
	case !c.readDL.IsZero():
		// A deadline is set (net/http clears it before this read; if it
		// was set again meanwhile, the real read honours it exactly).
		c.mu.Unlock()
		return nil
	}
	if c.bgWake == nil {
		c.bgWake = make(chan bgWake, 1)
	}
	c.bgParked = true
	c.mu.Unlock()
	backgroundReadsParked.Add(1)

	set := c.parkedIn()
	set.add(c)
	why := <-c.bgWake
	set.remove(c)
	switch why {
	case wakeDeadline:
		return os.ErrDeadlineExceeded
	case wakeClosed:
		return net.ErrClosed
	}
	return nil
}

// wakeBackgroundReadLocked ends a parked background read; c.mu is held.
func (c *framingConn) wakeBackgroundReadLocked(why bgWake) {
	if c.bgParked {
		c.bgParked = false
		c.bgWake <- why
	}
}

func (c *framingConn) promoteBackgroundRead() {
	if c.own != nil {
		c.own.promoteWatch()
		return
	}
	c.mu.Lock()
	c.wakeBackgroundReadLocked(wakePromote)
	c.mu.Unlock()
}

// parkedReads is the set of background reads parked now, over all
// gateway connections.
var parkedReads = parkedSet{every: parkedReadTick}

// parkedIn is the set c's background reads park in (tests give a
// connection its own, with another tick).
func (c *framingConn) parkedIn() *parkedSet {
	if c.parked != nil {
		return c.parked
	}
	return &parkedReads
}

// parkedSet sends reads parked for a whole tick on to a real read. Its
// goroutine runs only while reads are parked, so an idle process (or a
// test checking for leaked goroutines) has none.
type parkedSet struct {
	every   time.Duration
	quit    chan struct{} // closed: the goroutine ends (tests; nil for parkedReads)
	mu      sync.Mutex
	conns   map[*framingConn]uint64 // the tick each read was parked in
	tick    uint64
	running bool
}

func (s *parkedSet) add(c *framingConn) {
	s.mu.Lock()
	if s.conns == nil {
		s.conns = make(map[*framingConn]uint64)
	}
	s.conns[c] = s.tick
	if !s.running {
		s.running = true
		go s.watch()
	}
	s.mu.Unlock()
}

func (s *parkedSet) remove(c *framingConn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// watch promotes each read still parked two ticks after the tick it was
// parked in (so it has waited at least one whole tick), and ends when no
// read is parked.
func (s *parkedSet) watch() {
	t := time.NewTicker(s.every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-s.quit:
			s.mu.Lock()
			s.running = false
			s.mu.Unlock()
			return
		}
		s.mu.Lock()
		s.tick++
		var due []*framingConn
		for c, at := range s.conns {
			if s.tick-at >= 2 {
				delete(s.conns, c)
				due = append(due, c)
			}
		}
		if len(s.conns) == 0 {
			s.running = false
		}
		running := s.running
		s.mu.Unlock()
		for _, c := range due {
			c.promoteBackgroundRead()
		}
		if !running {
			return
		}
	}
}
