package auth

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
)

// slowFilters stands in for a Lua run that takes a moment and, like the Lua
// engine, gives up when its context is cancelled.
type slowFilters time.Duration

func (d slowFilters) runFilters(ctx context.Context, _ filterRequest) (*filterOutcome, error) {
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(time.Duration(d)):
		return &filterOutcome{SelectedHost: "127.0.0.9", SelectedPort: 9143}, nil
	}
}

// TestHalfClosedClientGetsItsAnswer: a client that shuts down its write side
// after the request (nothing more to send) still reads the answer. net/http
// cancels the request context when its background read sees that EOF.
func TestHalfClosedClientGetsItsAnswer(t *testing.T) {
	env := newEnv(t, func(_ *config.Config, o *Options) { o.filters = slowFilters(300 * time.Millisecond) })
	srv := httptest.NewServer(env.mux)
	defer srv.Close()

	requests := map[string]string{
		"nginx": "GET /api/v1/auth/nginx HTTP/1.0\r\nHost: 127.0.0.1\r\nAuth-Method: plain\r\nAuth-User: " + testUser +
			"\r\nAuth-Pass: " + testPassword + "\r\nAuth-Protocol: imap\r\nAuth-Login-Attempt: 1\r\nClient-IP: 127.0.0.1\r\n\r\n",
		"json": "POST /api/v1/auth/json HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nConnection: close\r\n" +
			"Content-Length: 57\r\n\r\n" + `{"username":"alice","password":"s3cr3t-p4ss","x":"....."}`,
	}
	for name, raw := range requests {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(conn, raw); err != nil {
			t.Fatal(err)
		}
		if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%s: reading the answer: %v", name, err)
		}
		resp.Body.Close()
		conn.Close()
		if got := resp.Header.Get("Auth-Status"); got != "OK" {
			t.Errorf("%s: Auth-Status %q after a half-close, want OK (log:\n%s)", name, got, env.logs.String())
		}
	}
}
