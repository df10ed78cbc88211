package probe

import (
	"io"
	"strings"
	"testing"
	"time"
)

// More hostile servers (issue 9): HTTP answers that never end or are not
// HTTP, servers that trickle a byte at a time (slowloris towards the probe),
// and control characters in lines the probe quotes in its errors.

// readRequest reads the probe's HTTP request up to its blank line.
func readRequest(c *fakeConn) {
	for range 100 {
		line, err := c.readLine()
		if err != nil || line == "" {
			return
		}
	}
}

func TestHTTPHostileServers(t *testing.T) {
	tenMB := strings.Repeat("a", 10<<20)
	cases := []struct {
		name     string
		handler  func(c *fakeConn)
		reason   Reason
		contains string
	}{
		{"answer never comes", func(c *fakeConn) { readRequest(c); drainQuietly(c) }, ReasonTimeout, "reading the HTTP response"},
		{"10 MB status line", func(c *fakeConn) {
			readRequest(c)
			_, _ = c.conn.Write([]byte("HTTP/1.1 200 " + tenMB))
		}, ReasonProtocol, "header exceeds"},
		{"endless header", func(c *fakeConn) {
			readRequest(c)
			_, _ = io.WriteString(c.conn, "HTTP/1.1 200 OK\r\n")
			line := strings.Repeat("X-Pad: "+strings.Repeat("p", 100)+"\r\n", 100)
			for range 1000 { // 10 MB at most; the probe stops at 128 KB
				if _, err := io.WriteString(c.conn, line); err != nil {
					return
				}
			}
		}, ReasonProtocol, "header exceeds"},
		{"not HTTP", func(c *fakeConn) {
			readRequest(c)
			_, _ = c.conn.Write([]byte("\x00\xff\x16\x03\x01 garbage\r\n\r\n"))
		}, ReasonProtocol, "HTTP response"},
		{"NUL and CR inside a header", func(c *fakeConn) {
			readRequest(c)
			_, _ = io.WriteString(c.conn, "HTTP/1.1 200 OK\r\nX-Evil: a\x00b\rc\r\nContent-Length: 0\r\n\r\n")
		}, ReasonProtocol, "HTTP response"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := startFake(t, tc.handler)
			tg := newTarget(t, "http", srv, TLSPlain)
			tg.AllowPlaintextAuth = true
			tg.DeepTimeout = hostileDeepTimeout(tc.reason)
			res := deep(t, tg)
			expectFail(t, res, tc.reason, tc.contains)
			if len(res.Err.Error()) > 1024 {
				t.Errorf("error of %d bytes quotes too much of the answer", len(res.Err.Error()))
			}
		})
	}
}

// A server sending one byte every few milliseconds never finishes a line;
// the deadline is absolute, so the check still ends at deep_timeout.
func TestTricklingServersEndAtTheDeadline(t *testing.T) {
	const deepTimeout = 400 * time.Millisecond
	const bound = deepTimeout + 1500*time.Millisecond // generous: CI machines are slow
	for _, protocol := range []string{"imap", "sieve", "pop3", "smtp", "http"} {
		t.Run(protocol, func(t *testing.T) {
			srv := startFake(t, func(c *fakeConn) {
				if protocol == "http" {
					readRequest(c)
				}
				for range 2000 { // 20s at most; the probe leaves long before
					if _, err := c.conn.Write([]byte("a")); err != nil {
						return
					}
					time.Sleep(10 * time.Millisecond)
				}
			})
			tg := newTarget(t, protocol, srv, TLSPlain)
			tg.AllowPlaintextAuth = true
			tg.DeepTimeout = deepTimeout
			start := time.Now()
			res := deep(t, tg)
			if took := time.Since(start); took > bound {
				t.Errorf("check took %v with deep_timeout %v", took, deepTimeout)
			}
			if res.OK || res.Reason != ReasonTimeout {
				t.Errorf("ok=%v reason=%q err=%v, want a timeout", res.OK, res.Reason, res.Err)
			}
		})
	}
}

// Server lines quoted in errors end up in logs, the status API and the
// status page: control characters there are escaped, not passed through
// (a terminal escape sequence, a bare CR that rewrites a log line).
func TestQuotedServerLinesEscapeControlCharacters(t *testing.T) {
	hostile := "\x1b[2J\x1b[31mfake\rok\x00\x7f"
	cases := []struct {
		protocol string
		greeting string
	}{
		{"imap", "* BAD " + hostile},
		{"pop3", "-ERR " + hostile},
		{"smtp", "554 " + hostile},
		{"sieve", `NO "` + hostile + `"`},
	}
	for _, tc := range cases {
		t.Run(tc.protocol, func(t *testing.T) {
			srv := startFake(t, func(c *fakeConn) {
				_, _ = io.WriteString(c.conn, tc.greeting+"\r\n")
				drainQuietly(c)
			})
			tg := newTarget(t, tc.protocol, srv, TLSPlain)
			tg.DeepTimeout = 2 * time.Second
			res := deep(t, tg)
			if res.OK {
				t.Fatal("check passed")
			}
			msg := res.Err.Error()
			if strings.ContainsAny(msg, "\x1b\r\x00\x7f") {
				t.Errorf("error passes control characters through: %q", msg)
			}
			if !strings.Contains(msg, `\x1b[31mfake\rok`) {
				t.Errorf("error %q should show the line escaped", msg)
			}
		})
	}
}

func TestQuotedClipsWithoutBreakingUTF8(t *testing.T) {
	s := &session{target: &Target{}}
	line := strings.Repeat("é", 300) // 600 bytes
	got := s.quoted(line)
	if !strings.HasSuffix(got, "…") || len(got) > maxQuoted+len("…") || !utf8Valid(got) {
		t.Errorf("quoted = %q (%d bytes)", got, len(got))
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }
