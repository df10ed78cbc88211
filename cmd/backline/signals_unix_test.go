//go:build unix

package main

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/backline/backline/internal/config"
)

// In-process: the daemon catches SIGHUP sent to this very process, logs it
// and keeps serving. Without the handler the test binary itself dies.
func TestDaemonLogsAndIgnoresSIGHUP(t *testing.T) {
	cfg, err := config.Parse([]byte("auth:\n  services:\n    enabled: []\n"))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- runDaemon(ctx, cfg, slog.New(slog.NewTextHandler(&logs, nil)), ln, func(string) { close(ready) })
	}()
	<-ready
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the SIGHUP log line", func() bool {
		return strings.Contains(logs.String(), `level=WARN msg="SIGHUP received; reload is not implemented yet, ignoring"`)
	})
	if status, _ := httpGet(t, "http://"+ln.Addr().String()+"/healthz"); status != 200 {
		t.Errorf("/healthz after SIGHUP: %d", status)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("runDaemon: %v", err)
	}
}

// logrotate and `systemctl reload` send SIGHUP: the daemon logs it and keeps
// running (it used to exit 129 without a word).
func TestServeProcessSurvivesSIGHUP(t *testing.T) {
	p, _ := startServeProcess(t, idleDaemon, 0)
	for range 2 {
		if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the SIGHUP log line", func() bool {
		select {
		case <-p.exited:
			t.Fatalf("daemon exited on SIGHUP (%v):\n%s", p.cmd.ProcessState, p.stderr.String())
		default:
		}
		return strings.Contains(p.stderr.String(), `level=WARN msg="`+hangupMessage+`"`)
	})
	p.healthz(t)
	p.stop(t)
}

// demo shares runDaemon with serve, so it ignores SIGHUP the same way.
func TestDemoLogsAndIgnoresSIGHUP(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() { done <- dispatch(ctx, []string{"demo", "--address", "127.0.0.1:0"}, &stdout, &stderr) }()
	waitFor(t, "the demo to start", func() bool { return strings.Contains(stderr.String(), `msg="backline started"`) })
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the SIGHUP log line", func() bool { return strings.Contains(stderr.String(), hangupMessage) })
	select {
	case code := <-done:
		t.Fatalf("demo stopped (exit %d) after SIGHUP:\n%s", code, stderr.String())
	default:
	}
	cancel()
	if code := <-done; code != exitOK {
		t.Errorf("demo exit %d:\n%s", code, stderr.String())
	}
	http.DefaultClient.CloseIdleConnections()
}
