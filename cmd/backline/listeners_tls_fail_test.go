package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/backline/backline/internal/config"
)

// A TLS block whose files cannot be loaded when serve wraps the listeners
// (a Config that was not validated) ends serve with the key's error and
// both listeners closed; it panicked: the failed wrap had already set
// the listener it was to close to nil.
func TestStartTLSFailureClosesTheListeners(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "backline.yml")
	if err := os.WriteFile(path, []byte("server:\n  address: 127.0.0.1:9080\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Server.TLS = &config.ListenerTLS{CertFile: filepath.Join(dir, "missing.pem"), KeyFile: filepath.Join(dir, "missing-key.pem")}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logger, level, err := newLoggerVar(&syncBuffer{}, "debug", "text")
	if err != nil {
		t.Fatal(err)
	}
	err = runDaemonWith(context.Background(), daemonOptions{cfg: cfg, path: path, logger: logger, level: level, ln: ln})
	if err == nil || !strings.Contains(err.Error(), "server.tls") {
		t.Fatalf("serve: %v, want the server.tls error", err)
	}
	if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		c.Close()
		t.Fatal("the API listener is still open")
	}
}
