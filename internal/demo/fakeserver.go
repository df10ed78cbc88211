package demo

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// fakeServer accepts connections on 127.0.0.1 and runs handle on each. It
// tracks open connections so Close can end them all and wait for every
// goroutine: the demo must stop without leaving anything behind.
type fakeServer struct {
	ln     net.Listener
	handle func(*lineConn)
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	// broken (the demo page's "break" button) closes every new connection
	// at once, or hands it to whenBroken when set: probes see the backend
	// fail until it is repaired.
	broken     atomic.Bool
	whenBroken func(*lineConn)
}

func (s *fakeServer) setBroken(b bool) { s.broken.Store(b) }

// idleLimit ends a fake session a client forgot about.
const idleLimit = 30 * time.Second

func startFake(handle func(*lineConn)) (*fakeServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &fakeServer{ln: ln, handle: handle, conns: map[net.Conn]struct{}{}}
	s.wg.Go(s.acceptLoop)
	return s, nil
}

func (s *fakeServer) Addr() *net.TCPAddr { return s.ln.Addr().(*net.TCPAddr) }

func (s *fakeServer) acceptLoop() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		handle := s.handle
		if s.broken.Load() {
			if s.whenBroken == nil {
				c.Close()
				continue
			}
			handle = s.whenBroken
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Go(func() {
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				c.Close()
			}()
			handle(newLineConn(c))
		})
	}
}

// Close stops accepting, ends open sessions and waits for them.
func (s *fakeServer) Close() {
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.ln.Close()
	s.wg.Wait()
}

// lineConn is a CRLF line conversation that can switch to TLS mid-way.
type lineConn struct {
	net.Conn
	r *bufio.Reader
}

func newLineConn(c net.Conn) *lineConn {
	return &lineConn{Conn: c, r: bufio.NewReader(c)}
}

// readLine returns the next line without CRLF. Lines are capped so a
// misbehaving client cannot grow memory.
func (l *lineConn) readLine() (string, error) {
	_ = l.SetReadDeadline(time.Now().Add(idleLimit))
	var b strings.Builder
	for {
		chunk, err := l.r.ReadSlice('\n')
		b.Write(chunk)
		if b.Len() > 8192 {
			return "", errors.New("line too long")
		}
		if err == nil {
			return strings.TrimRight(b.String(), "\r\n"), nil
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return "", err
		}
	}
}

func (l *lineConn) send(lines ...string) error {
	for _, line := range lines {
		if _, err := io.WriteString(l.Conn, line+"\r\n"); err != nil {
			return err
		}
	}
	return nil
}

// startTLS upgrades the connection after a STARTTLS/STLS answer.
func (l *lineConn) startTLS(cfg *tls.Config) error {
	tc := tls.Server(l.Conn, cfg)
	_ = tc.SetDeadline(time.Now().Add(idleLimit))
	if err := tc.Handshake(); err != nil {
		return err
	}
	l.Conn = tc
	l.r = bufio.NewReader(tc)
	return nil
}

func (l *lineConn) isTLS() bool {
	_, ok := l.Conn.(*tls.Conn)
	return ok
}

// implicitTLS wraps a handler so the session starts with a TLS handshake.
func implicitTLS(cfg *tls.Config, handle func(*lineConn)) func(*lineConn) {
	return func(l *lineConn) {
		if err := l.startTLS(cfg); err != nil {
			return
		}
		handle(l)
	}
}
