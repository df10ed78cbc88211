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

// In-process: the daemon catches SIGHUP sent to this very process and
// tries a reload; without a file (runDaemon, as the demo) it logs why it
// cannot and keeps serving. Without the handler the test binary dies.
func TestDaemonWithoutFileRefusesSIGHUPReload(t *testing.T) {
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
	waitFor(t, "backline started", func() bool { return strings.Contains(logs.String(), `msg="backline started"`) })
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reload failure", func() bool {
		return strings.Contains(logs.String(), `level=ERROR msg="configuration reload failed; the running configuration stays"`)
	})
	if !strings.Contains(logs.String(), "started without a configuration file") {
		t.Errorf("no reason logged:\n%s", logs.String())
	}
	if status, _ := httpGet(t, "http://"+ln.Addr().String()+"/healthz"); status != 200 {
		t.Errorf("/healthz after SIGHUP: %d", status)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("runDaemon: %v", err)
	}
}

// `systemctl reload` sends SIGHUP: the daemon reloads its file (here: API
// credentials appear) and keeps running; it used to exit 129.
func TestServeProcessReloadsOnSIGHUP(t *testing.T) {
	p, _ := startServeProcess(t, idleDaemon, 0)
	if status, _ := httpGet(t, "http://"+p.api+"/api/v1/backends"); status != 200 {
		t.Fatalf("open API: %d", status)
	}
	withAuth := strings.Replace(idleDaemon, "  address: {api}\n",
		"  address: "+p.api+"\n  api_auth:\n    username: ops\n    password: reload-secret\n", 1)
	if err := os.WriteFile(p.path, []byte(withAuth), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reload log line", func() bool {
		select {
		case <-p.exited:
			t.Fatalf("daemon exited on SIGHUP (%v):\n%s", p.cmd.ProcessState, p.stderr.String())
		default:
		}
		return strings.Contains(p.stderr.String(), `msg="configuration reloaded"`)
	})
	if status, _ := httpGet(t, "http://"+p.api+"/api/v1/backends"); status != 401 {
		t.Errorf("API after the reload: %d, want 401", status)
	}
	if strings.Contains(p.stderr.String(), "reload-secret") {
		t.Error("the password was logged")
	}
	p.healthz(t)
	p.stop(t)
}

// demo has no file: SIGHUP logs that and the demo keeps running.
func TestDemoSurvivesSIGHUP(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() { done <- dispatch(ctx, []string{"demo", "--address", "127.0.0.1:0"}, &stdout, &stderr) }()
	waitFor(t, "the demo to start", func() bool { return strings.Contains(stderr.String(), `msg="backline started"`) })
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reload refusal", func() bool { return strings.Contains(stderr.String(), "started without a configuration file") })
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
