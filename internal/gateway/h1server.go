package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// h1Server serves the gateway's plain (non-TLS) listener: HTTP/1.1 and
// HTTP/1.0, without net/http's server. Measured on the 22-byte GET bench
// (docs/gateway.md, "Performance"): net/http's per-request machinery (its
// request parsing, a context, a goroutine for the background read, a
// response writer with a chunk writer and sorted header output) is about
// a fifth of the gateway's CPU, and the framing scan, parked background
// read and lazy deadlines (framing.go, bgread.go, deadline.go) exist only
// to work around what it hides. Here the head is parsed once, strictly,
// straight into the *http.Request the layers take; the handler is the
// same. TLS listeners stay on net/http (HTTP/2 needs it).
type h1Server struct {
	h         http.Handler
	logger    *slog.Logger
	connState func(net.Conn, http.ConnState)

	mu       sync.Mutex
	conns    map[*h1ServerConn]struct{}
	shutting atomic.Bool
	wg       sync.WaitGroup
}

// serve accepts on ln until ctx ends, then stops accepting, closes idle
// connections and waits for the others for up to drain; past that it
// closes them too.
func (s *h1Server) serve(ctx context.Context, ln net.Listener, drain time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- s.accept(ln) }()
	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
		ln.Close()
		<-errc
		err = nil
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	if serr := s.shutdown(shutdownCtx); err == nil {
		err = serr
	}
	return err
}

func (s *h1Server) accept(ln net.Listener) error {
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				// Out of file descriptors and the like: wait, as net/http does.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.logger.Warn("gateway accept failed; retrying", "error", err, "retry_in", backoff)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		c := newServerConn(s, nc)
		s.mu.Lock()
		if s.shutting.Load() {
			s.mu.Unlock()
			nc.Close()
			continue
		}
		if s.conns == nil {
			s.conns = make(map[*h1ServerConn]struct{})
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		c.setState(http.StateNew)
		go c.serve()
	}
}

func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

func (s *h1Server) forget(c *h1ServerConn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.wg.Done()
}

// shutdown closes idle connections until none is left or ctx ends, then
// closes the rest.
func (s *h1Server) shutdown(ctx context.Context) error {
	s.shutting.Store(true)
	tick := 5 * time.Millisecond
	for {
		if s.closeIdle() {
			return nil
		}
		select {
		case <-ctx.Done():
			s.mu.Lock()
			busy := len(s.conns)
			for c := range s.conns {
				c.clientGone() // a handler waiting on its context ends too
				c.fc.Close()
			}
			s.mu.Unlock()
			// A handler stuck on something else (a lock, a script) does
			// not hold the process: a short grace, then on without it.
			done := make(chan struct{})
			go func() { s.wg.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(time.Second):
				s.logger.Warn("gateway shutdown: requests still running after the drain time", "connections", busy)
			}
			return ctx.Err()
		case <-time.After(tick):
			tick = min(2*tick, 500*time.Millisecond)
		}
	}
}

// closeIdle closes connections waiting for a request (a new one only
// after 5 s, as net/http: its first request may be on its way) and
// reports whether none is left.
func (s *h1Server) closeIdle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		switch http.ConnState(c.state.Load()) {
		case http.StateIdle:
			c.fc.Close()
		case http.StateNew:
			if time.Since(c.accepted) > 5*time.Second {
				c.fc.Close()
			}
		}
	}
	return len(s.conns) == 0
}

// logPanic reports a handler's panic (http.ErrAbortHandler is the
// handler's way to cut an answer off and is not reported).
func (s *h1Server) logPanic(remote string, p any) {
	if p == http.ErrAbortHandler {
		return
	}
	s.logger.Error("gateway handler panic", "remote", remote, "panic", p, "stack", string(debug.Stack()))
}
