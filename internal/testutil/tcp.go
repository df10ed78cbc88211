package testutil

import (
	"net"
	"testing"
)

// ServeTCP listens on 127.0.0.1, runs handle on every accepted connection
// (on the accepting goroutine: handle starts its own if it blocks), and
// returns the address. The test's cleanup closes the listener and waits
// for the accept loop; handle owns the connections it is given.
func ServeTCP(t testing.TB, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			handle(c)
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String()
}
