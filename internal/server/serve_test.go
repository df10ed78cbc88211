package server

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/testutil"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

type lockedBuffer = testutil.LogBuffer

type mountFunc func(*http.ServeMux)

func (f mountFunc) Register(mux *http.ServeMux) { f(mux) }

// TestServeListenerServesAndStops runs the real listener: a mounted route,
// access logs at DEBUG without the query or credentials, and a clean stop.
func TestServeListenerServesAndStops(t *testing.T) {
	var logs lockedBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := New(Options{
		Snapshot: fixedSource{testSnapshot()},
		Logger:   logger,
		APIAuth:  config.APIAuth{Username: "ops", Password: "api-pass"},
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

	req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/api/v1/auth/test?secret=q", nil)
	req.SetBasicAuth("ops", "api-pass")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "mounted" {
		t.Errorf("mounted route: %d %q", resp.StatusCode, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("ServeListener: %v", err)
	}
	http.DefaultClient.CloseIdleConnections()
	out := logs.String()
	if !strings.Contains(out, "path=/api/v1/auth/test status=200") {
		t.Errorf("no access log line in:\n%s", out)
	}
	for _, leak := range []string{"secret=q", "api-pass", "Basic "} {
		if strings.Contains(out, leak) {
			t.Errorf("logs contain %q:\n%s", leak, out)
		}
	}
	if strings.Contains(out, "without authentication") {
		t.Errorf("loopback listener with auth warned:\n%s", out)
	}
}

func TestWarnsWhenOpenOffLoopback(t *testing.T) {
	var logs lockedBuffer
	s := New(Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	// A wildcard listener is reachable from the network; it is closed at once.
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.ServeListener(ctx, ln); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "level=WARN msg=\"API is reachable from the network without authentication") {
		t.Errorf("no warning in:\n%s", logs.String())
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:9080": true, "[::1]:9080": true, "localhost:9080": true,
		":9080": false, "0.0.0.0:9080": false, "[::]:9080": false, "192.0.2.1:9080": false,
	} {
		if got := isLoopback(addr); got != want {
			t.Errorf("isLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}
