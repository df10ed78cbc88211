package demo

import "io"

// serveSilent is the broken backend: it accepts the connection and never
// greets, like a hung server or Dovecot waiting for a PROXY header. A deep
// check against it times out.
func serveSilent(l *lineConn) {
	_, _ = io.Copy(io.Discard, l.Conn)
}
