package integration

import (
	"net"
	"sync"
	"testing"
)

// loopbackServer is a test's own listener on 127.0.0.1 (a fake backend, a
// relay). When the test ends it stops accepting, closes the connections
// it tracked (a handler blocked reading one returns) and waits for the
// accept loop and every handler.
type loopbackServer struct {
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []net.Conn
}

// serveLoopback accepts connections (at most limit of them; 0: no limit)
// and runs handle for each in its own goroutine, until the test ends.
func serveLoopback(t *testing.T, limit int, handle func(c net.Conn)) *loopbackServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &loopbackServer{ln: ln}
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for _, c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	s.wg.Go(func() {
		for n := 0; limit == 0 || n < limit; n++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.track(c)
			s.wg.Go(func() { handle(c) })
		}
	})
	return s
}

// track closes c when the test ends.
func (s *loopbackServer) track(c net.Conn) {
	s.mu.Lock()
	s.conns = append(s.conns, c)
	s.mu.Unlock()
}

func (s *loopbackServer) port() int { return s.ln.Addr().(*net.TCPAddr).Port }

func (s *loopbackServer) addr() string { return s.ln.Addr().String() }
