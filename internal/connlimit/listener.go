// Package connlimit caps the client connections a listener holds open, so a
// flood of idle keep-alive connections cannot take every file descriptor of
// the process (and with them the health probes and /healthz).
//
// At the cap, new connections wait in the kernel's listen backlog, as with
// HAProxy's maxconn, and are served in turn instead of being refused (one is
// held accepted, see Accept). When the backlog is full too, the kernel drops
// further SYNs and clients retry. With the ConnState hook installed, an idle
// keep-alive connection is closed to make room for a waiting client.
package connlimit

import (
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Options configure Wrap.
type Options struct {
	// Name tells the listeners apart in logs and metrics ("api", "gateway").
	Name string
	// MaxConnections is the cap; it must be at least 1.
	MaxConnections int
	Logger         *slog.Logger
}

// Retry pacing after a failed accept (the same as net/http's own) and the
// least time between two warnings about it.
const (
	minRetryDelay = 5 * time.Millisecond
	maxRetryDelay = time.Second
	warnInterval  = 10 * time.Second
)

// Listener is a net.Listener with a connection cap. Accept errors such as
// EMFILE are retried here, with a growing pause, and logged at WARN at most
// once per ten seconds with a count of the ones left out.
type Listener struct {
	net.Listener
	name  string
	max   int
	log   *slog.Logger
	slots chan struct{}
	done  chan struct{}
	once  sync.Once

	open         atomic.Int64
	acceptErrors atomic.Uint64
	evictions    atomic.Uint64
	warner       warner

	idleMu sync.Mutex
	idleList

	// Tests shorten these.
	minDelay, maxDelay time.Duration
}

// Wrap returns ln with the cap of opts. Closing the result closes ln.
func Wrap(ln net.Listener, opts Options) *Listener {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	limit := max(opts.MaxConnections, 1)
	return &Listener{
		Listener: ln, name: opts.Name, max: limit, log: logger,
		slots: make(chan struct{}, limit), done: make(chan struct{}),
		warner: warner{every: warnInterval, now: time.Now},
		idleList: idleList{
			evictWarner: warner{every: warnInterval, now: time.Now},
			becameIdle:  make(chan struct{}, 1),
		},
		minDelay: minRetryDelay, maxDelay: maxRetryDelay,
	}
}

// Accept returns the next connection once it has a slot. It returns only
// errors that end serving (the listener was closed, or one it cannot retry).
//
// At the cap it holds one accepted connection back (the only descriptor
// beyond the cap) until a slot is free: that is how it knows a client is
// waiting, and so when closing an idle connection for it is worth it. The
// clients after that one wait in the kernel's backlog.
func (l *Listener) Accept() (net.Conn, error) {
	c, err := l.acceptRetrying()
	if err != nil {
		return nil, err
	}
	select {
	case l.slots <- struct{}{}:
	default:
		if err := l.waitForSlot(); err != nil {
			_ = c.Close()
			return nil, err
		}
	}
	l.open.Add(1)
	return &conn{Conn: c, l: l}, nil
}

// acceptRetrying accepts, retrying errors such as EMFILE with a growing
// pause and a rate-limited warning.
func (l *Listener) acceptRetrying() (net.Conn, error) {
	delay := time.Duration(0)
	for {
		c, err := l.Listener.Accept()
		if err == nil {
			return c, nil
		}
		if !retryable(err) {
			return nil, err
		}
		l.acceptErrors.Add(1)
		l.warnAcceptError(err)
		delay = min(max(2*delay, l.minDelay), l.maxDelay)
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-l.done:
			t.Stop()
			return nil, net.ErrClosed
		}
	}
}

// waitForSlot is Accept at the cap with a client waiting: it makes room by
// closing an idle keep-alive connection (see ConnState), now or as soon as
// one turns idle, or waits for a connection to close.
func (l *Listener) waitForSlot() error {
	l.evictIdle()
	for {
		select {
		case l.slots <- struct{}{}:
			return nil
		case <-l.becameIdle:
			// The signal may be older than the slot the first eviction
			// freed: take a free slot before closing anything more.
			select {
			case l.slots <- struct{}{}:
				return nil
			default:
				l.evictIdle()
			}
		case <-l.done:
			return net.ErrClosed
		}
	}
}

// Close stops Accept, also one waiting for a slot, and closes the listener.
// Connections already accepted stay open.
func (l *Listener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// Open is the number of accepted connections not yet closed.
func (l *Listener) Open() int { return int(l.open.Load()) }

// Max is the cap.
func (l *Listener) Max() int { return l.max }

// AcceptErrors counts the failed accepts that were retried.
func (l *Listener) AcceptErrors() uint64 { return l.acceptErrors.Load() }

// IdleEvictions counts idle connections closed to make room at the cap.
func (l *Listener) IdleEvictions() uint64 { return l.evictions.Load() }

func (l *Listener) release() {
	l.open.Add(-1)
	<-l.slots
}

// retryable tells the errors after which accepting again later can work:
// out of descriptors or buffers, or a client that gave up while queued.
func retryable(err error) bool {
	for _, errno := range []syscall.Errno{
		syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM,
		syscall.ECONNABORTED, syscall.ECONNRESET, syscall.EINTR, syscall.EAGAIN,
	} {
		if errors.Is(err, errno) {
			return true
		}
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (l *Listener) warnAcceptError(err error) {
	suppressed, ok := l.warner.allow()
	if !ok {
		return
	}
	args := []any{"listener", l.name, "address", l.Addr().String(), "error", err,
		"suppressed_since_last_warning", suppressed, "open_connections", l.Open(), "max_connections", l.max}
	if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
		args = append(args, "hint", "out of file descriptors: raise the limit (LimitNOFILE=) or lower max_connections")
	}
	l.log.Warn("accepting a connection failed; retrying", args...)
}

// conn gives its slot back when closed, once.
type conn struct {
	net.Conn
	l    *Listener
	once sync.Once
	// On the listener's idle list while idle (idle.go); guarded by l.idleMu.
	idle               bool
	idlePrev, idleNext *conn
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.forget(c)
		c.l.release()
	})
	return err
}

// NetConn is the wrapped connection (a proxied websocket half-closes it).
func (c *conn) NetConn() net.Conn { return c.Conn }

// warner lets one warning through per interval and counts the rest.
type warner struct {
	every time.Duration
	now   func() time.Time

	mu         sync.Mutex
	last       time.Time
	suppressed int
}

// allow reports whether to log now, and how many were held back before.
func (w *warner) allow() (suppressed int, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.now()
	if !w.last.IsZero() && now.Sub(w.last) < w.every {
		w.suppressed++
		return 0, false
	}
	suppressed, w.suppressed, w.last = w.suppressed, 0, now
	return suppressed, true
}
