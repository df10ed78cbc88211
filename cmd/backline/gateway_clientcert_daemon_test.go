package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/testutil"
)

// startFileDaemon runs the daemon on the configuration file at path until
// the test ends, and returns the API's URL and its log.
func startFileDaemon(t *testing.T, path string) (api string, logs *syncBuffer) {
	t.Helper()
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logs = &syncBuffer{}
	logger, level, err := newLoggerVar(logs, "info", "text")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runDaemonWith(ctx, daemonOptions{cfg: cfg, path: path, logger: logger, level: level, ln: ln})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("daemon: %v", err)
		}
	})
	api = "http://" + ln.Addr().String()
	waitFor(t, "backline started", func() bool { return strings.Contains(logs.String(), `msg="backline started"`) })
	return api, logs
}

// postReload asks the daemon to reload and returns the status and body.
func postReload(t *testing.T, api string) (int, string) {
	t.Helper()
	resp, err := http.Post(api+"/api/v1/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func writeConfigFile(t *testing.T, path, yml string) {
	t.Helper()
	if err := os.WriteFile(path+".new", []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
}

// A daemon with an mTLS gateway backend warns about its expiring client
// certificate at start, shows its expiry on /metrics, and a reload with
// the renewed files moves the gauge and ends the warning.
func TestDaemonGatewayClientCertificateExpiry(t *testing.T) {
	ca := testutil.NewPKI(t)
	dir := t.TempDir()
	soon := time.Now().Add(5 * 24 * time.Hour).Truncate(time.Second)
	later := time.Now().Add(200 * 24 * time.Hour).Truncate(time.Second)
	cert, key := ca.Issue(t, "gw-client", 2, soon, true).Write(t, dir)
	gwLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gw := gwLn.Addr().String()
	gwLn.Close()
	path := filepath.Join(dir, "backline.yml")
	yml := `server:
  address: 127.0.0.1:9080
auth:
  services:
    enabled: []
definitions:
  backends:
    partner:
      origin: https://127.0.0.1:9
      tls:
        client_certificate_file: ` + cert + `
        client_private_key_file: ` + key + `
gateway:
  address: ` + gw + `
  endpoints:
    - path: /p
      proxy:
        backend: partner
`
	writeConfigFile(t, path, yml)
	api, logs := startFileDaemon(t, path)
	gauge := regexp.MustCompile(`(?m)^backline_gateway_client_certificate_expiry_timestamp_seconds\{backend="partner"\} (\S+)$`)
	value := func() string {
		t.Helper()
		_, metrics := httpGet(t, api+"/metrics")
		m := gauge.FindStringSubmatch(metrics)
		if m == nil {
			t.Fatalf("no gauge for partner in /metrics")
		}
		if strings.Contains(metrics, "PRIVATE KEY") {
			t.Fatalf("key material on /metrics")
		}
		return m[1]
	}
	if got := value(); !sameSeconds(got, soon) {
		t.Fatalf("gauge %s, want %d", got, soon.Unix())
	}
	warning := "definitions.backends.partner.tls.client_certificate_file (line 11): client certificate \\\"CN=gw-client\\\" expires at"
	if !strings.Contains(logs.String(), warning) {
		t.Fatalf("no expiry warning at start:\n%s", logs.String())
	}

	ca.Issue(t, "gw-client", 3, later, true).Write(t, dir) // renewed in place
	if code, body := postReload(t, api); code != http.StatusOK {
		t.Fatalf("reload: %d %s", code, body)
	}
	if got := value(); !sameSeconds(got, later) {
		t.Fatalf("gauge after the reload %s, want %d", got, later.Unix())
	}
	if n := strings.Count(logs.String(), "client certificate \\\"CN=gw-client\\\" expires at"); n != 1 {
		t.Errorf("%d expiry warnings, want only the one at start:\n%s", n, logs.String())
	}
}

// sameSeconds compares a gauge's text with a time as numbers: the
// exposition format drops trailing zeros (1.79685046e+09 for a Unix time
// ending in 0), so a fixed formatting of the expected value failed then.
func sameSeconds(text string, at time.Time) bool {
	v, err := strconv.ParseFloat(text, 64)
	return err == nil && v == float64(at.Unix())
}
