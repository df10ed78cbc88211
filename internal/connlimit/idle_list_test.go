package connlimit

import (
	"net"
	"net/http"
	"testing"
)

// The idle list is threaded through the connections: eviction takes the
// one idle the longest, a connection turning active or closing leaves it
// from any place, and going idle twice does not list it twice.
func TestIdleListOrderAndUnlink(t *testing.T) {
	l := Wrap(nil, Options{MaxConnections: 4})
	var conns [4]*conn
	for i := range conns {
		a, b := net.Pipe()
		t.Cleanup(func() { a.Close(); b.Close() })
		conns[i] = &conn{Conn: a, l: l}
		l.slots <- struct{}{} // as Accept takes a slot
	}
	for _, c := range conns {
		l.ConnState(c, http.StateIdle)
	}
	l.ConnState(conns[0], http.StateIdle)   // again: moves to the back, once
	l.ConnState(conns[2], http.StateActive) // leaves from the middle
	l.forget(conns[3])                      // closing, from the back... now the middle
	var got []*conn
	for c := l.oldest; c != nil; c = c.idleNext {
		got = append(got, c)
	}
	if len(got) != 2 || got[0] != conns[1] || got[1] != conns[0] {
		t.Fatalf("idle list = %v, want [conn1 conn0]", got)
	}
	if !l.evictIdle() || conns[1].idle {
		t.Fatal("eviction did not take the connection idle the longest")
	}
	if !l.evictIdle() || l.oldest != nil || l.newest != nil {
		t.Fatal("the list is not empty after evicting both")
	}
	if l.evictIdle() {
		t.Fatal("evicted from an empty list")
	}
}

// Going idle after each request allocates nothing.
func TestIdleListNoAllocation(t *testing.T) {
	l := Wrap(nil, Options{MaxConnections: 1})
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	c := &conn{Conn: a, l: l}
	allocs := testing.AllocsPerRun(100, func() {
		l.ConnState(c, http.StateActive)
		l.ConnState(c, http.StateIdle)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per request", allocs)
	}
}
