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
	// Both files are named, each line with its key.
	if err == nil || !strings.Contains(err.Error(), "server.tls: tls.cert_file: cannot read") ||
		!strings.Contains(err.Error(), "server.tls: tls.key_file: cannot read") {
		t.Fatalf("serve: %v, want the server.tls errors of both files", err)
	}
	if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		c.Close()
		t.Fatal("the API listener is still open")
	}
}

// A reload that finds the TLS files unusable lists each problem on its own
// line with the block's key.
func TestLoadListenerTLSListsEveryProblem(t *testing.T) {
	dir := t.TempDir()
	cfg := &config.Config{}
	cfg.Server.TLS = &config.ListenerTLS{CertFile: filepath.Join(dir, "missing.pem"), KeyFile: filepath.Join(dir, "missing-key.pem")}
	cfg.Gateway.TLS = &config.ListenerTLS{MinVersion: "1.1"}
	got := loadListenerTLS(cfg)
	want := []string{
		"server.tls: tls.cert_file: cannot read",
		"server.tls: tls.key_file: cannot read",
		"gateway.tls: tls.cert_file: is required",
		"gateway.tls: tls.key_file: is required",
		`gateway.tls: tls.min_version: must be 1.2 or 1.3, got "1.1"`,
	}
	if len(got) != len(want) {
		t.Fatalf("errors:\n%s", strings.Join(got, "\n"))
	}
	for i, w := range want {
		if !strings.HasPrefix(got[i], w) {
			t.Errorf("error %d = %q, want it to start with %q", i, got[i], w)
		}
	}
}
