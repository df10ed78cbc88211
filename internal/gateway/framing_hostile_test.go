package gateway

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// hostileCase is raw client input and what must come of it.
type hostileCase struct {
	name string
	// pieces are written in order, with pause between them.
	pieces []string
	pause  time.Duration
	// halfClose shuts the write side after the last piece.
	halfClose bool
	// status is the wanted answer; 0: the connection closes unanswered.
	status int
	// errorType is the wanted Backline-Error, if any.
	errorType string
	// origin is the bodies the origin may read completely, in order.
	origin []string
}

func TestHostileRequestInput(t *testing.T) { testHostileRequestInput(t, framingHarness) }

func testHostileRequestInput(t *testing.T, newH framingHarnessFunc) {
	longValue := strings.Repeat("a", maxClientHead+8<<10) // net/http allows 4 KiB of slack
	cases := []hostileCase{
		{name: "oversized header", status: 431,
			pieces: []string{"GET /api/x HTTP/1.1\r\nHost: gw\r\nX-Big: " + longValue + "\r\n\r\n"}},
		{name: "many header lines", status: 431,
			pieces: []string{"GET /api/x HTTP/1.1\r\nHost: gw\r\n" + strings.Repeat("X-A: b\r\n", maxClientHead/8+1024) + "\r\n"}},
		{name: "oversized request line", status: 431,
			pieces: []string{"GET /api/" + longValue + " HTTP/1.1\r\nHost: gw\r\n\r\n"}},
		{name: "truncated Content-Length body", halfClose: true, status: 0,
			pieces: []string{"POST /api/x HTTP/1.1\r\nHost: gw\r\nContent-Length: 10\r\n\r\nabc"}},
		{name: "truncated chunked body", halfClose: true, status: 0,
			pieces: []string{"POST /api/x HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"}},
		{name: "truncated head", halfClose: true, status: 400,
			pieces: []string{"POST /api/x HTTP/1.1\r\nHost: gw\r\nContent-Le"}},
		{name: "slow client within the timeouts", pause: 30 * time.Millisecond, status: 200, origin: []string{"hello"},
			pieces: []string{"POST /api/x HT", "TP/1.1\r\nHo", "st: gw\r\nContent-", "Length: 5\r\n\r\n", "he", "llo"}},
		{name: "slow chunked upload", pause: 30 * time.Millisecond, status: 200, origin: []string{"hello"},
			pieces: []string{"POST /api/x HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n", "3\r\nhel\r\n", "2\r\nlo\r\n", "0\r\n\r\n"}},
		{name: "NUL in header value", status: 400,
			pieces: []string{"GET /api/x HTTP/1.1\r\nHost: gw\r\nX-A: a\x00b\r\n\r\n"}},
		{name: "bare CR in header value", status: 400,
			pieces: []string{"GET /api/x HTTP/1.1\r\nHost: gw\r\nX-A: a\rb\r\n\r\n"}},
		{name: "escape in header value", status: 400,
			pieces: []string{"GET /api/x HTTP/1.1\r\nHost: gw\r\nX-A: \x1b[31m\r\n\r\n"}},
		{name: "control byte in header name", status: 400,
			pieces: []string{"GET /api/x HTTP/1.1\r\nHost: gw\r\nX\x01A: b\r\n\r\n"}},
		{name: "space before colon", status: 400,
			pieces: []string{"POST /api/x HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding : chunked\r\nContent-Length: 3\r\n\r\nabc"}},
		{name: "duplicated Host", status: 400,
			pieces: []string{"GET /api/x HTTP/1.1\r\nHost: gw\r\nHost: other\r\n\r\n"}},
		{name: "duplicated equal Content-Length", status: 200, origin: []string{"abc"},
			pieces: []string{"POST /api/x HTTP/1.1\r\nHost: gw\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc"}},
		{name: "duplicated differing Content-Length", status: 400,
			pieces: []string{"POST /api/x HTTP/1.1\r\nHost: gw\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"}},
		{name: "signed Content-Length", status: 400,
			pieces: []string{"POST /api/x HTTP/1.1\r\nHost: gw\r\nContent-Length: +3\r\n\r\nabc"}},
		{name: "Transfer-Encoding other than chunked", status: 501,
			pieces: []string{"POST /api/x HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: gzip\r\n\r\nabc"}},
		{name: "duplicated Transfer-Encoding", status: 501,
			pieces: []string{"POST /api/x HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"}},
		{name: "HTTP/1.0 chunked with Content-Length", status: 400, errorType: "client_request",
			pieces: []string{"POST /api/x HTTP/1.0\r\nHost: gw\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc"}},
		{name: "folded Transfer-Encoding next to Content-Length", status: 400,
			pieces: []string{"POST /api/x HTTP/1.1\r\nHost: gw\r\nContent-Length: 3\r\nTransfer-Encoding:\r\n chunked\r\n\r\nabc"}},
		{name: "chunk size overflow", status: 400, errorType: "client_request",
			pieces: []string{"POST /api/x HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\nx\r\n0\r\n\r\n"}},
		{name: "encoded traversal", status: 400, errorType: "client_request",
			pieces: []string{"GET /api/%2E%2e/%2e%2E/etc/passwd HTTP/1.1\r\nHost: gw\r\n\r\n"}},
	}
	o := newRecordingOrigin(t)
	h := newH(t, o, "")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(o.seen())
			status, errType := hostileExchange(t, h, tc)
			if status != tc.status || (tc.errorType != "" && errType != tc.errorType) {
				t.Fatalf("status %d %q, want %d %q", status, errType, tc.status, tc.errorType)
			}
			var complete []string
			for _, s := range o.seen()[before:] {
				if s.err == nil {
					complete = append(complete, s.body)
				}
			}
			if strings.Join(complete, "|") != strings.Join(tc.origin, "|") {
				t.Fatalf("origin read %q, want %q", complete, tc.origin)
			}
		})
	}
	if strings.Contains(h.logs.String(), "panic") {
		t.Fatalf("panic logged: %s", h.logs.String())
	}
}

// hostileExchange plays tc against the gateway and returns the first
// answer's status and error type (0 when the connection closed without
// one). The bounds only stop a broken test.
func hostileExchange(t *testing.T, h *harness, tc hostileCase) (int, string) {
	t.Helper()
	c := h.dialRaw(t)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	for i, p := range tc.pieces {
		if i > 0 {
			time.Sleep(tc.pause)
		}
		if _, err := io.WriteString(c, p); err != nil {
			break // the gateway may answer and close before it read everything
		}
	}
	if tc.halfClose {
		_ = c.(interface{ CloseWrite() error }).CloseWrite() // TCP, or TLS's close_notify
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isReset(err) {
			return 0, ""
		}
		t.Fatalf("reading the answer: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get(ErrorHeader)
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && strings.Contains(op.Err.Error(), "reset")
}

// A body the gateway answers without reading (404 here) is drained by
// net/http before the answer goes out; a client that stops sending it
// used to hold the connection, unanswered, for good.
func TestUnreadBodyDrainIsBounded(t *testing.T) {
	defer func(d time.Duration) { unreadBodyWait = d }(unreadBodyWait)
	unreadBodyWait = 100 * time.Millisecond
	o := newRecordingOrigin(t)
	h := framingHarness(t, o, "")
	status, errType := hostileExchange(t, h, hostileCase{
		pieces: []string{"POST /nowhere HTTP/1.1\r\nHost: gw\r\nContent-Length: 1000\r\n\r\nonly a little"},
	})
	if status != 404 || errType != "route_not_found" {
		t.Fatalf("status %d %q, want 404 route_not_found within the 5 s bound", status, errType)
	}
}
