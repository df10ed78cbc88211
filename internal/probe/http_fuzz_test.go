package probe

import (
	"bufio"
	"bytes"
	"net"
	"strings"
	"testing"
	"time"
)

// writeOnlyConn takes the probe's request and nothing else: the fuzzed
// answer is already in the session's reader.
type writeOnlyConn struct{ net.Conn }

func (writeOnlyConn) Write(p []byte) (int, error) { return len(p), nil }

// FuzzHTTPResponse feeds arbitrary bytes as the answer to an HTTP check
// with credentials and an expected text: it must never panic, never pass
// without a listed status and the text, and never quote the password or
// more than a bounded part of the answer in its error.
func FuzzHTTPResponse(f *testing.F) {
	for _, seed := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nhealthy\r\n",
		"HTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"x\"\r\n\r\n",
		"HTTP/1.0 200 OK\r\n\r\nhealthy",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7\r\nhealthy\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhealthy",
		"HTTP/1.1 200 " + testPassword + "\r\n\r\n",
		"HTTP/1.1 999 \x00\x1b\r\n\r\n",
		"garbage\r\n\r\n",
		"",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tg := &Target{
			Name: "fuzz", Protocol: "http", Host: "127.0.0.1", Port: 80,
			Username: testUser, Password: testPassword, AllowPlaintextAuth: true,
			HTTP: &HTTPExpect{Path: "/health", Statuses: []int{200, 204}, Text: "healthy"},
		}
		res := &Result{}
		s := &session{conn: writeOnlyConn{}, r: bufio.NewReader(bytes.NewReader(data)), target: tg, res: res,
			record: true, deadline: time.Now().Add(time.Hour)}
		s.secrets = []string{testPassword, testPlainBlob}
		err := checkHTTP(s)
		if err == nil {
			if !bytes.Contains(data, []byte("healthy")) {
				t.Fatalf("check passed without the expected text: %q", data)
			}
			return
		}
		msg := err.Error()
		if strings.Contains(msg, testPassword) {
			t.Fatalf("error quotes the password: %q", msg)
		}
		if len(msg) > 2048 {
			t.Fatalf("error of %d bytes", len(msg))
		}
		for _, line := range res.Transcript {
			if strings.Contains(line, testPassword) {
				t.Fatalf("transcript holds the password: %q", line)
			}
		}
	})
}
