package state

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/redis/go-redis/v9"
)

// ReplyGuard bounds the size of each reply a go-redis client reads, before
// the client materializes it. go-redis reads a reply whole (a bulk string
// of N bytes is one make of N bytes, an array of N elements a slice of N)
// and has no limit of its own, so a Lua script's GET of a 500 MB value,
// HGETALL of a huge hash or EVAL returning a huge table would make the
// daemon allocate all of it before the script's memory budget could say
// no.
//
// The guard sits between the client and its connection (a dial wrapper):
// it follows the RESP structure of what the server sends, holds back each
// top-level reply until it is complete, and hands it on as it came. A
// reply whose size (bytes as sent plus ReplyElementCost per element) goes
// over the limit is read off the connection and dropped as it arrives, and
// the client gets a one-line error reply instead
// ("BACKLINE_REPLY_TOO_LARGE ..."). A declared length over the limit
// ("$600000000", "*50000000") is refused at its header, before anything of
// it is held. The connection stays in step (the refused reply was read to
// its end) and stays in the pool; the refusal is an answer about that
// command's data, so other commands on the connection and the circuit
// breaker (which ignores error replies) are unaffected. What the guard
// holds at a time is bounded by the limit per connection. The client's
// own bookkeeping commands (COMMAND, CLUSTER, ...) are not limited
// (replyguard_cmds.go).
//
// A caller can ask for a smaller limit for one command's reply
// (replyguard_expect.go).
type ReplyGuard struct {
	limit   atomic.Int64
	refused atomic.Int64
	exp     expectations
}

// ReplyTooLargePrefix starts the error reply a refused reply becomes.
const ReplyTooLargePrefix = "BACKLINE_REPLY_TOO_LARGE"

// ReplyElementCost is what the guard counts per element besides bytes.
const ReplyElementCost = replyElementCost

// NewReplyGuard returns a guard with limit bytes per reply (0: none).
func NewReplyGuard(limit int64) *ReplyGuard {
	g := &ReplyGuard{}
	g.exp.seed = maphash.MakeSeed()
	g.SetLimit(limit)
	return g
}

// SetLimit changes the limit for replies that start from now on.
func (g *ReplyGuard) SetLimit(limit int64) { g.limit.Store(max(limit, 0)) }

// Limit is the current limit (0: none).
func (g *ReplyGuard) Limit() int64 { return g.limit.Load() }

// Refused counts the replies refused so far.
func (g *ReplyGuard) Refused() int64 { return g.refused.Load() }

// Dialer wraps dial so every connection it makes is guarded.
func (g *ReplyGuard) Dialer(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return g.Wrap(c), nil
	}
}

// DialHook makes the guard a go-redis Hook (client.AddHook): connections
// dialed afterwards are guarded. Prefer Dialer at construction, which
// leaves no window for connections dialed before the hook.
func (g *ReplyGuard) DialHook(next redis.DialHook) redis.DialHook {
	return redis.DialHook(g.Dialer(next))
}

// Wrap guards c (a connection already guarded by g is returned as is).
// The wrapper exposes the socket (syscall.Conn) when c does, so go-redis's
// check of idle connections still works: a guarded connection never holds
// back bytes between replies.
func (g *ReplyGuard) Wrap(c net.Conn) net.Conn {
	switch c := c.(type) {
	case *guardedConn:
		if c.g == g {
			return c
		}
	case *guardedSysConn:
		if c.g == g {
			return c
		}
	}
	gc := &guardedConn{Conn: c, g: g}
	gc.cmds.exp = &g.exp
	if sc, ok := c.(syscall.Conn); ok {
		return &guardedSysConn{guardedConn: gc, sys: sc}
	}
	return gc
}

// IsReplyTooLarge reports whether err is a guard's refusal, and the size
// and limit it names.
func IsReplyTooLarge(err error) (size, limit int64, ok bool) {
	var re redis.Error
	if err == nil || !asRedisError(err, &re) {
		return 0, 0, false
	}
	rest, ok := strings.CutPrefix(re.Error(), ReplyTooLargePrefix+" ")
	if !ok {
		return 0, 0, false
	}
	// "<size> <limit> ..."
	f := strings.Fields(rest)
	if len(f) >= 2 {
		size, _ = strconv.ParseInt(f[0], 10, 64)
		limit, _ = strconv.ParseInt(f[1], 10, 64)
	}
	return size, limit, true
}

func tooLargeReply(size, limit int64) []byte {
	return fmt.Appendf(nil, "-%s %d %d a reply of at least %d bytes is over the limit of %d\r\n",
		ReplyTooLargePrefix, size, limit, size, limit)
}

type guardedSysConn struct {
	*guardedConn
	sys syscall.Conn
}

func (c *guardedSysConn) SyscallConn() (syscall.RawConn, error) { return c.sys.SyscallConn() }

// guardedConn is one guarded connection. Reads only: go-redis reads a
// connection from one goroutine at a time.
type guardedConn struct {
	net.Conn
	g *ReplyGuard
	// rbuf receives what the connection sends. A reply that ends within
	// one read goes from rbuf to out; one spanning reads is held in pages
	// (held) until it ends, and dropped if it is refused: pages, not one
	// growing buffer, so a refused reply costs at most the limit once.
	rbuf  []byte
	held  [][]byte
	spare [][]byte
	// What the caller may read: the pages of a finished held reply
	// (ready, from readyOff in ready[0]), then out (from outOff). Only
	// a drained guard reads the connection, so a pass starts with both
	// empty, and a held reply, which began in an earlier read, is the
	// first to finish in it: ready never follows out.
	ready    [][]byte
	readyOff int
	out      []byte
	outOff   int
	s        respScanner
	started  bool // s is inside a reply
	// cmds matches replies to the commands written, for the few whose
	// replies are not limited (replyguard_cmds.go).
	cmds    cmdTracker
	pending error // a read error to return once out is drained
}

const (
	guardReadChunk = 16 << 10
	guardPageSize  = 16 << 10
	guardSpare     = 4
	// guardKeepCap is the out buffer kept between replies; one grown for
	// a large reply is let go afterwards.
	guardKeepCap = 64 << 10
)

func (c *guardedConn) Write(b []byte) (int, error) {
	c.cmds.written(b)
	return c.Conn.Write(b)
}

func (c *guardedConn) Read(p []byte) (int, error) {
	for {
		if len(c.ready) > 0 {
			page := c.ready[0]
			n := copy(p, page[c.readyOff:])
			if c.readyOff += n; c.readyOff == len(page) {
				c.recycle(page)
				c.ready[0] = nil
				c.ready, c.readyOff = c.ready[1:], 0
			}
			return n, nil
		}
		if c.outOff < len(c.out) {
			n := copy(p, c.out[c.outOff:])
			c.outOff += n
			if c.outOff == len(c.out) {
				c.out, c.outOff = shrink(c.out), 0
			}
			return n, nil
		}
		if c.pending != nil {
			err := c.pending
			c.pending = nil
			return 0, err
		}
		if c.rbuf == nil {
			c.rbuf = make([]byte, guardReadChunk)
		}
		n, err := c.Conn.Read(c.rbuf)
		if perr := c.pass(c.rbuf[:n]); perr != nil {
			// Not RESP: the stream cannot be followed; the connection is
			// done for (go-redis closes it on a read error).
			return 0, perr
		}
		if err != nil {
			if len(c.ready) > 0 || c.outOff < len(c.out) {
				c.pending = err
				continue
			}
			return 0, err
		}
	}
}

// pass scans b, moving complete replies to out and dropping refused ones
// (each replaced by its error line).
func (c *guardedConn) pass(b []byte) error {
	for len(b) > 0 {
		if !c.started {
			limit := c.g.limit.Load()
			if b[0] != '>' { // a push answers no command
				limit = c.g.replyLimit(limit, c.cmds.replied())
			}
			c.s.next(limit)
			c.started = true
		}
		n, ended, err := c.s.feed(b)
		if err != nil {
			return err
		}
		part := b[:n]
		b = b[n:]
		switch {
		case c.s.refused:
			c.dropHeld()
		case ended && len(c.held) == 0:
			c.out = append(c.out, part...)
		default:
			c.hold(part)
			if ended {
				c.releaseHeld()
			}
		}
		if ended {
			c.started = false
			if c.s.refused {
				c.g.refused.Add(1)
				c.out = append(c.out, tooLargeReply(c.s.declared, c.s.limit)...)
			}
		}
	}
	return nil
}

// replyLimit is the limit for the reply to the command e describes, given
// the guard's limit.
func (g *ReplyGuard) replyLimit(limit int64, e cmdEntry) int64 {
	switch {
	case e.exempt:
		return 0
	case e.hashed:
		if l, ok := g.exp.limit(e.hash); ok && (limit <= 0 || l < limit) {
			return l
		}
	}
	return limit
}

// hold keeps part of an unfinished reply.
func (c *guardedConn) hold(part []byte) {
	for len(part) > 0 {
		last := len(c.held) - 1
		if last < 0 || len(c.held[last]) == cap(c.held[last]) {
			var page []byte
			if k := len(c.spare); k > 0 {
				page, c.spare = c.spare[k-1], c.spare[:k-1]
			} else {
				page = make([]byte, 0, guardPageSize)
			}
			c.held = append(c.held, page)
			last++
		}
		page := c.held[last]
		k := copy(page[len(page):cap(page)], part)
		c.held[last] = page[:len(page)+k]
		part = part[k:]
	}
}

// releaseHeld hands a finished held reply's pages to the caller as they
// are: a large reply is not copied again.
func (c *guardedConn) releaseHeld() {
	c.ready = append(c.ready, c.held...)
	c.held = nil
}

func (c *guardedConn) dropHeld() {
	for _, page := range c.held {
		c.recycle(page)
	}
	clear(c.held)
	c.held = c.held[:0]
}

// recycle keeps a few emptied pages for the next held reply.
func (c *guardedConn) recycle(page []byte) {
	if len(c.spare) < guardSpare {
		c.spare = append(c.spare, page[:0])
	}
}

// shrink empties b, letting a large buffer go.
func shrink(b []byte) []byte {
	if cap(b) > guardKeepCap {
		return nil
	}
	return b[:0]
}

func asRedisError(err error, re *redis.Error) bool { return errors.As(err, re) }
