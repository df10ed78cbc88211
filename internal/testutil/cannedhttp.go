package testutil

import (
	"bytes"
	"net"
	"testing"
)

// ServeCannedHTTP answers every connection with response, written as it
// is however broken, once the request head has arrived; it returns the
// listener's address (127.0.0.1:port). Tests use it for origins and HTTP
// targets that send what no real server library would.
func ServeCannedHTTP(t testing.TB, response string) string {
	t.Helper()
	return ServeTCP(t, func(c net.Conn) {
		go func() {
			defer c.Close()
			buf := make([]byte, 4096)
			var head []byte
			for !bytes.Contains(head, []byte("\r\n\r\n")) {
				n, err := c.Read(buf)
				if err != nil {
					return
				}
				head = append(head, buf[:n]...)
			}
			_, _ = c.Write([]byte(response))
		}()
	})
}
