package probe

import (
	"context"
	"strings"
	"testing"
)

// Bug: one reply could hold far more than a check needs, now that every
// connect-only check reads the greeting by default. An SMTP or LMTP
// greeting (or EHLO reply) of 1000 lines of 64 KiB was kept whole (64 MiB
// a probe), a ManageSieve greeting as well, and a ManageSieve line of
// empty literals ("{0}" line after line) never ended: each costs nothing
// of the literal budget, so the check kept appending tokens until its
// deadline. A reply or response now keeps at most maxResponseBytes of
// lines.
func TestHugeGreetingIsRefused(t *testing.T) {
	longLine := strings.Repeat("x", 60<<10)
	cases := []struct {
		protocol string
		send     func(c *fakeConn)
	}{
		{"smtp", func(c *fakeConn) {
			for range 40 {
				_, _ = c.conn.Write([]byte("220-" + longLine + "\r\n"))
			}
			_, _ = c.conn.Write([]byte("220 ready\r\n"))
			c.drain()
		}},
		{"sieve", func(c *fakeConn) {
			for range 40 {
				_, _ = c.conn.Write([]byte(`"X-LONG" "` + longLine + "\"\r\n"))
			}
			_, _ = c.conn.Write([]byte("OK \"ready\"\r\n"))
			c.drain()
		}},
		{"sieve", func(c *fakeConn) {
			// Empty literals, 3 MiB of them, then the end of the line.
			chunk := []byte(strings.Repeat("{0}\r\n", 64<<10))
			_, _ = c.conn.Write([]byte(`"IMPLEMENTATION" {0}` + "\r\n"))
			for range 10 {
				if _, err := c.conn.Write(chunk); err != nil {
					return
				}
			}
			_, _ = c.conn.Write([]byte("\r\nOK\r\n"))
			c.drain()
		}},
	}
	for _, tc := range cases {
		t.Run(tc.protocol, func(t *testing.T) {
			srv := startFake(t, tc.send)
			res := (&Prober{}).Check(context.Background(), connectTarget(t, tc.protocol, srv, TLSPlain), PhaseConnect, Options{})
			if res.OK || res.Reason != ReasonProtocol || !strings.Contains(res.Err.Error(), "bytes") {
				t.Fatalf("ok=%v reason=%s err=%v; want the greeting refused as too long", res.OK, res.Reason, res.Err)
			}
		})
	}
}

// A POP3 CAPA list is bounded like an SMTP reply: 40 lines of 60 KiB
// (2.4 MiB, well under maxReplyLines lines) are refused by their size,
// while a real list (a few hundred bytes) passes.
func TestHugePOP3ListIsRefused(t *testing.T) {
	longLine := strings.Repeat("x", 60<<10)
	huge := make([]string, 0, 41)
	for range 40 {
		huge = append(huge, "X-"+longLine)
	}
	huge = append(huge, ".")
	if _, err := readPOP3List(lineSource(huge...)); err == nil || Classify(err) != ReasonProtocol || !strings.Contains(err.Error(), "bytes") {
		t.Fatalf("err = %v; want the list refused as too long", err)
	}
	if _, err := readPOP3List(lineSource("USER", "SASL PLAIN LOGIN", "STLS", "PIPELINING", ".")); err != nil {
		t.Fatalf("a real CAPA list: %v", err)
	}
}
