package main

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/backline/backline/internal/config"
)

// runDaemonLogs runs the daemon on cfg until it is listening, stops it and
// returns its log.
func runDaemonLogs(t *testing.T, yaml string) string {
	return runDaemonLogsOn(t, yaml, "127.0.0.1:0")
}

// runDaemonLogsOn is runDaemonLogs with the API listening on addr.
func runDaemonLogsOn(t *testing.T, yaml, addr string) string {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	err = runDaemon(ctx, cfg, slog.New(slog.NewTextHandler(&logs, nil)), ln, func(string) { cancel() })
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	return logs.String()
}

func TestServiceNotEnabled(t *testing.T) {
	logs := runDaemonLogs(t, "auth:\n  services:\n    enabled: []\n")
	if !strings.Contains(logs, `level=INFO msg="Backend health-check service is not enabled"`) {
		t.Errorf("logs:\n%s", logs)
	}
}

func TestServiceWithoutTargets(t *testing.T) {
	logs := runDaemonLogs(t, "auth:\n  services:\n    enabled: [backend_health_checks]\n")
	if !strings.Contains(logs, `level=ERROR msg="no health-check targets configured"`) ||
		!strings.Contains(logs, `level=WARN msg="configuration warning"`) {
		t.Errorf("logs:\n%s", logs)
	}
}

// An API open beyond loopback without api_auth is worth one warning, from
// the server about the listener it opened, not a second from the config.
func TestOpenAPIWarnedOnce(t *testing.T) {
	logs := runDaemonLogsOn(t, "server:\n  address: 0.0.0.0:18991\nauth:\n  services:\n    enabled: []\n", "0.0.0.0:0")
	if n := strings.Count(logs, "api_auth"); n != 1 {
		t.Fatalf("%d warnings about api_auth, want 1:\n%s", n, logs)
	}
}
