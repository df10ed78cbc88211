package server

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestRequestHeadIsBounded: the API listener took net/http's default of
// 1 MiB of request head, and the auth endpoints log Auth-Protocol,
// Client-IP and Auth-Method as sent, so every request could write a
// megabyte-long log line. Heads over 64 KiB (the gateway's limit; nginx and
// Dovecot send well under 8 KiB) get 431 now.
func TestRequestHeadIsBounded(t *testing.T) {
	s := New(Options{
		Snapshot: fixedSource{testSnapshot()},
		Logger:   slog.New(slog.DiscardHandler),
		Mounts: []Mount{mountFunc(func(mux *http.ServeMux) {
			mux.HandleFunc("GET /api/v1/auth/test", func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, "mounted")
			})
		})},
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.ServeListener(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeListener: %v", err)
		}
	}()

	status := func(value string) int {
		t.Helper()
		c, err := net.DialTimeout("tcp", ln.Addr().String(), 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		_, _ = io.WriteString(c, "GET /api/v1/auth/test HTTP/1.1\r\nHost: x\r\nAuth-Protocol: "+value+"\r\nConnection: close\r\n\r\n")
		line := make([]byte, 12)
		if _, err := io.ReadFull(c, line); err != nil {
			t.Fatalf("reading the answer: %v", err)
		}
		var code int
		for _, ch := range strings.TrimPrefix(string(line), "HTTP/1.1 ") {
			code = code*10 + int(ch-'0')
		}
		return code
	}
	if got := status(strings.Repeat("a", 8<<10)); got != http.StatusOK {
		t.Errorf("8 KiB header: status %d, want 200", got)
	}
	if got := status(strings.Repeat("a", 200<<10)); got != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("200 KiB header: status %d, want 431", got)
	}
}
