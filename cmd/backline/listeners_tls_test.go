package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/testutil"
)

// tlsDaemon is a daemon with server.tls and gateway.tls on one set of
// certificate files, which the test rewrites between reloads.
type tlsDaemon struct {
	t             *testing.T
	dir, path     string
	api, gw       string
	pki           *testutil.PKI
	logs          *syncBuffer
	origin        string
	clientCert    *tls.Certificate // presented when set
	cancel        func()
	done          chan error
	stopped       bool
	tlsKeys, tail string
}

func (d *tlsDaemon) writeConfig(tlsKeys string) {
	d.t.Helper()
	indented := strings.ReplaceAll(tlsKeys, "\n", "\n  ")
	yml := fmt.Sprintf("server:\n  address: 127.0.0.1:9080\n%s\ndefinitions:\n  backends:\n    origin:\n      origin: %s\n"+
		"gateway:\n  address: %s\n%s\n  endpoints:\n    - path: /r\n      proxy:\n        backend: origin\n",
		"  "+indented, d.origin, d.gw, "  "+indented)
	if err := os.WriteFile(d.path, []byte(yml), 0o600); err != nil {
		d.t.Fatal(err)
	}
}

func (d *tlsDaemon) tlsBlock(extra string) string {
	return fmt.Sprintf("tls:\n  cert_file: %s\n  key_file: %s\n%s", filepath.Join(d.dir, "cert.pem"), filepath.Join(d.dir, "key.pem"), extra)
}

func startTLSDaemon(t *testing.T) *tlsDaemon {
	t.Helper()
	d := &tlsDaemon{t: t, dir: t.TempDir(), pki: testutil.NewPKI(t), logs: &syncBuffer{}}
	d.path = filepath.Join(d.dir, "backline.yml")
	d.origin = textOrigin(t, "origin").URL
	d.pki.Server(t, 11).Write(t, d.dir)
	gwLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d.gw = gwLn.Addr().String()
	gwLn.Close()
	d.writeConfig(d.tlsBlock(""))
	cfg, err := config.Load(d.path)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d.api = ln.Addr().String()
	logger, level, err := newLoggerVar(d.logs, "debug", "text")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel, d.done = cancel, make(chan error, 1)
	go func() {
		d.done <- runDaemonWith(ctx, daemonOptions{cfg: cfg, path: d.path, logger: logger, level: level, ln: ln})
	}()
	t.Cleanup(d.stop)
	waitFor(t, "backline started", func() bool { return strings.Contains(d.logs.String(), `msg="backline started"`) })
	return d
}

func (d *tlsDaemon) stop() {
	if d.stopped {
		return
	}
	d.stopped = true
	d.cancel()
	if err := <-d.done; err != nil {
		d.t.Errorf("daemon: %v", err)
	}
	if logs := d.logs.String(); strings.Contains(logs, "PRIVATE KEY") {
		d.t.Errorf("key material in the log:\n%s", logs)
	}
}

func (d *tlsDaemon) client(h2 bool) *http.Client {
	cc := d.pki.ClientConfig()
	if d.clientCert != nil {
		cc.Certificates = []tls.Certificate{*d.clientCert}
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cc, ForceAttemptHTTP2: h2, DisableKeepAlives: !h2}}
}

// get fetches url over a new connection and returns the status, the body
// and the serial of the certificate the server showed.
func (d *tlsDaemon) get(url string, h2 bool) (int, string, int64, error) {
	c := d.client(h2)
	defer c.CloseIdleConnections()
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if h2 && resp.ProtoMajor != 2 {
		return 0, "", 0, fmt.Errorf("%s: got %s, want h2", url, resp.Proto)
	}
	return resp.StatusCode, string(b), resp.TLS.PeerCertificates[0].SerialNumber.Int64(), nil
}

// serials checks the certificate both listeners show to a new connection.
func (d *tlsDaemon) serials(want int64) {
	d.t.Helper()
	for _, url := range []string{"https://" + d.api + "/healthz", "https://" + d.gw + "/r"} {
		for _, h2 := range []bool{false, true} {
			status, body, serial, err := d.get(url, h2)
			if err != nil || status != 200 || serial != want {
				d.t.Fatalf("%s (h2 %v): %d %q serial %d (%v), want serial %d", url, h2, status, body, serial, err, want)
			}
		}
	}
}

func (d *tlsDaemon) reload() reloadAnswer {
	d.t.Helper()
	c := d.client(false)
	resp, err := c.Post("https://"+d.api+"/api/v1/reload", "", nil)
	if err != nil {
		d.t.Fatalf("POST /api/v1/reload: %v", err)
	}
	defer resp.Body.Close()
	var a reloadAnswer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		d.t.Fatalf("reload answer: %v", err)
	}
	return a
}

func (d *tlsDaemon) metric(series string) string {
	d.t.Helper()
	_, body, _, err := d.get("https://"+d.api+"/metrics", false)
	if err != nil {
		d.t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		return "missing"
	}
	return m[1]
}

// A reload serves renewed certificates on both listeners, to new
// connections; an open connection stays up. A bad new certificate (expired,
// or a key of another one) fails the reload and the running one stays.
// Turning TLS off needs a restart.
func TestListenerTLSReload(t *testing.T) {
	d := startTLSDaemon(t)
	d.serials(11)

	old, err := tls.Dial("tcp", d.api, d.pki.ClientConfig("http/1.1"))
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()

	d.pki.Server(t, 22).Write(t, d.dir)
	if a := d.reload(); len(a.Errors) != 0 {
		t.Fatalf("reload: %+v", a)
	}
	d.serials(22)
	_ = old.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.WriteString(old, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, err := http.ReadResponse(bufio.NewReader(old), nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("connection opened before the reload: %v", err)
	}

	// Expired, then a key of another certificate.
	d.pki.Issue(t, "localhost", 33, time.Now().Add(-time.Minute), false).Write(t, d.dir)
	if a := d.reload(); !strings.Contains(strings.Join(a.Errors, "\n"), "server.tls.cert_file (line 4): certificate \"CN=localhost\" expired") {
		t.Fatalf("reload of an expired certificate: %+v", a)
	}
	d.serials(22)
	if got := d.metric("backline_config_last_reload_successful"); got != "0" {
		t.Fatalf("backline_config_last_reload_successful %s after a refused certificate", got)
	}
	cert44 := d.pki.Server(t, 44)
	other := d.pki.Server(t, 55)
	if err := os.WriteFile(filepath.Join(d.dir, "cert.pem"), cert44.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d.dir, "key.pem"), other.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if a := d.reload(); !strings.Contains(strings.Join(a.Errors, "\n"), "server.tls.key_file (line 5): does not match") {
		t.Fatalf("reload of a mismatched key: %+v", a)
	}
	d.serials(22)

	d.writeConfig("")
	if a := d.reload(); !strings.Contains(strings.Join(a.Errors, "\n"), `server.tls (line 1): changed from "TLS" to "plain HTTP"`) {
		t.Fatalf("reload without tls: %+v", a)
	}
	d.serials(22)
}

// Reloading client_ca_file in turns on mutual TLS for new connections:
// a client without a certificate is then refused and counted.
func TestListenerTLSClientCertificatesOnReload(t *testing.T) {
	d := startTLSDaemon(t)
	d.writeConfig(d.tlsBlock("  client_ca_file: " + d.pki.WriteCA(t, d.dir) + "\n  min_version: '1.3'"))
	if a := d.reload(); len(a.Errors) != 0 {
		t.Fatalf("reload: %+v", a)
	}
	if _, _, _, err := d.get("https://"+d.api+"/healthz", false); err == nil {
		t.Fatal("a client without a certificate got an answer")
	}
	leaf := d.pki.Issue(t, "dovecot", 77, time.Now().Add(time.Hour), true)
	d.clientCert = &leaf.Cert
	if status, _, _, err := d.get("https://"+d.api+"/healthz", false); err != nil || status != 200 {
		t.Fatalf("a client with a certificate: %d %v", status, err)
	}
	waitFor(t, "the refused handshake counted", func() bool {
		return d.metric(`backline_listener_tls_handshake_failures_total{listener="api",reason="protocol"}`) == "1"
	})
	if strings.Contains(d.logs.String(), "CN=dovecot") {
		t.Fatal("client certificate details in the log")
	}
}

// Plain HTTP to a TLS port gets net/http's 400 and is counted.
func TestPlainHTTPToTLSListener(t *testing.T) {
	d := startTLSDaemon(t)
	for _, addr := range []string{d.api, d.gw} {
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + addr + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(b), "HTTP request to an HTTPS server") {
			t.Fatalf("%s: %d %q", addr, resp.StatusCode, b)
		}
	}
	for _, l := range []string{"api", "gateway"} {
		series := fmt.Sprintf(`backline_listener_tls_handshake_failures_total{listener=%q,reason="plain_http"}`, l)
		waitFor(t, series, func() bool { return d.metric(series) == "1" })
	}
	if got := d.metric(`backline_listener_tls_certificate_expiry_timestamp_seconds{listener="gateway"}`); got == "missing" || got == "0" {
		t.Fatalf("certificate expiry gauge: %s", got)
	}
}
