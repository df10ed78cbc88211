package config

import (
	"crypto/tls"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/testutil"
)

// tlsFiles writes a server certificate, its key and the CA into a temp
// dir; other returns a key that belongs to no certificate of them.
type tlsFiles struct{ cert, key, ca, otherKey, expiredCert, expiredKey, garbage string }

func writeTLSFiles(t *testing.T) tlsFiles {
	t.Helper()
	pki := testutil.NewPKI(t)
	var f tlsFiles
	dir := t.TempDir()
	f.cert, f.key = pki.Server(t, 1).Write(t, dir)
	f.ca = pki.WriteCA(t, dir)
	other := t.TempDir()
	_, f.otherKey = pki.Server(t, 2).Write(t, other)
	expired := t.TempDir()
	f.expiredCert, f.expiredKey = pki.Issue(t, "old", 3, time.Now().Add(-time.Minute), false).Write(t, expired)
	f.garbage = filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(f.garbage, []byte("-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1tYXRlcmlhbA==\n-----END PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestListenerTLSDefaultsAndLoad(t *testing.T) {
	f := writeTLSFiles(t)
	c := mustParse(t, "server:\n  tls:\n    cert_file: "+f.cert+"\n    key_file: "+f.key+"\n")
	tl := c.Server.TLS
	if tl == nil || tl.MinVersion != TLSVersion12 || !tl.HTTP2Enabled() || tl.ClientCAFile != "" {
		t.Fatalf("defaults: %+v", tl)
	}
	cfg, err := tl.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MinVersion != tls.VersionTLS12 || strings.Join(cfg.NextProtos, ",") != "h2,http/1.1" ||
		cfg.ClientAuth != tls.NoClientCert || cfg.Certificates[0].Leaf.SerialNumber.Int64() != 1 {
		t.Fatalf("loaded: min %x protos %v auth %v", cfg.MinVersion, cfg.NextProtos, cfg.ClientAuth)
	}
	if c.Gateway.TLS != nil {
		t.Fatal("gateway.tls set without being written")
	}

	c = mustParse(t, "gateway:\n  address: 127.0.0.1:8080\n  tls:\n    cert_file: "+f.cert+"\n    key_file: "+f.key+
		"\n    min_version: TLS1.3\n    http2: false\n    client_ca_file: "+f.ca+"\n")
	cfg, err = c.Gateway.TLS.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	if c.Gateway.TLS.MinVersion != TLSVersion13 || cfg.MinVersion != tls.VersionTLS13 ||
		strings.Join(cfg.NextProtos, ",") != "http/1.1" || cfg.ClientAuth != tls.RequireAndVerifyClientCert || cfg.ClientCAs == nil {
		t.Fatalf("gateway.tls: %+v / min %x protos %v auth %v", c.Gateway.TLS, cfg.MinVersion, cfg.NextProtos, cfg.ClientAuth)
	}
	if s := ListenerTLSSummary(c.Gateway.TLS); !strings.Contains(s, `"CN=localhost"`) || !strings.Contains(s, "TLS 1.3+, client certificates required") {
		t.Fatalf("summary %q", s)
	}
}

// Each problem names its key and line; no message quotes a key file.
func TestListenerTLSErrors(t *testing.T) {
	f := writeTLSFiles(t)
	head := "server:\n  tls:\n"
	tests := []struct{ name, body, want string }{
		{"empty block", "    {}\n", "server.tls.cert_file (line 2): is required"},
		{"no key", "    cert_file: " + f.cert + "\n", "server.tls.key_file (line 2): is required"},
		{"missing cert file", "    cert_file: /nonexistent/c.pem\n    key_file: " + f.key + "\n", "server.tls.cert_file (line 3):"},
		{"key of another certificate", "    cert_file: " + f.cert + "\n    key_file: " + f.otherKey + "\n",
			"server.tls.key_file (line 4): does not match the public key of the first certificate in cert_file"},
		{"key is garbage", "    cert_file: " + f.cert + "\n    key_file: " + f.garbage + "\n",
			"server.tls.key_file (line 4): is not a PKCS #8, PKCS #1 or SEC 1 private key"},
		{"key file as certificate", "    cert_file: " + f.key + "\n    key_file: " + f.key + "\n",
			"server.tls.cert_file (line 3): holds no PEM CERTIFICATE block"},
		{"expired", "    cert_file: " + f.expiredCert + "\n    key_file: " + f.expiredKey + "\n",
			`server.tls.cert_file (line 3): certificate "CN=old" expired at`},
		{"min_version", "    cert_file: " + f.cert + "\n    key_file: " + f.key + "\n    min_version: '1.1'\n",
			`server.tls.min_version (line 5): must be 1.2 or 1.3, got "1.1"`},
		{"client CA is a key", "    cert_file: " + f.cert + "\n    key_file: " + f.key + "\n    client_ca_file: " + f.key + "\n",
			"server.tls.client_ca_file (line 5): holds no PEM CERTIFICATE block"},
		{"unknown key", "    cert_file: " + f.cert + "\n    key_file: " + f.key + "\n    enabled: true\n", "server.tls.enabled (line 5)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := strings.Join(parseErrors(t, head+tt.body), "\n")
			if !strings.Contains(errs, tt.want) {
				t.Fatalf("errors:\n%s\nwant %q", errs, tt.want)
			}
			if strings.Contains(errs, "c2VjcmV0") || strings.Contains(errs, "PRIVATE KEY-----") {
				t.Fatalf("key material in %q", errs)
			}
		})
	}
	errs := strings.Join(parseErrors(t, "gateway:\n  tls:\n    cert_file: "+f.cert+"\n    key_file: "+f.key+"\n"), "\n")
	if !strings.Contains(errs, "gateway.tls (line 2): needs gateway.address") {
		t.Fatalf("gateway.tls without address: %s", errs)
	}
}

// Every problem of both blocks is reported at once, each at its key and
// line: loading used to stop at the first, so an operator fixed one file,
// ran check again and only then learned of the next.
func TestListenerTLSReportsEveryProblem(t *testing.T) {
	f := writeTLSFiles(t)
	unreadable := t.TempDir() // a directory: unreadable as a file even for root
	yml := "server:\n  tls:\n    cert_file: /nonexistent/c.pem\n    key_file: " + unreadable +
		"\n    min_version: '1.1'\n    client_ca_file: " + f.garbage + "\n" +
		"gateway:\n  address: 127.0.0.1:8080\n  tls:\n    cert_file: " + f.expiredCert + "\n    key_file: " + f.otherKey + "\n"
	want := []string{
		`server.tls.cert_file (line 3): cannot read "/nonexistent/c.pem"`,
		`server.tls.key_file (line 4): cannot read "` + unreadable + `"`,
		`server.tls.min_version (line 5): must be 1.2 or 1.3, got "1.1"`,
		"server.tls.client_ca_file (line 6): holds no PEM CERTIFICATE block",
		`gateway.tls.cert_file (line 10): certificate "CN=old" expired at`,
		"gateway.tls.key_file (line 11): does not match the public key of the first certificate in cert_file",
	}
	got := parseErrors(t, yml)
	if len(got) != len(want) {
		t.Fatalf("%d errors, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i, w := range want {
		if !strings.HasPrefix(got[i], w) {
			t.Errorf("error %d = %q, want it to start with %q", i, got[i], w)
		}
		if strings.Contains(got[i], "c2VjcmV0") || strings.Contains(got[i], "PRIVATE KEY-----") {
			t.Errorf("key material in %q", got[i])
		}
	}

	// Both required files missing: both named, not just cert_file.
	got = parseErrors(t, "server:\n  tls:\n    min_version: '1.3'\n")
	if w := "server.tls.cert_file (line 2): is required\nserver.tls.key_file (line 2): is required"; strings.Join(got, "\n") != w {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), w)
	}
}

func TestTLSErrors(t *testing.T) {
	one := &TLSError{"cert_file", errors.New("is required")}
	two := &TLSError{"key_file", errors.New("is required")}
	if got := TLSErrors(nil); got != nil {
		t.Errorf("nil: %v", got)
	}
	if got := TLSErrors(one); len(got) != 1 || got[0] != one {
		t.Errorf("one: %v", got)
	}
	if got := TLSErrors(errors.Join(one, two)); len(got) != 2 || got[0] != one || got[1] != two {
		t.Errorf("joined: %v", got)
	}
}

// "tls:" with nothing under it is refused, not taken for plain HTTP.
func TestListenerTLSEmptyBlock(t *testing.T) {
	for _, c := range []struct{ yml, want string }{
		{"server:\n  tls:\n", "server.tls (line 2): is empty"},
		{"server:\n  tls: ~\n", "server.tls (line 2): is empty"},
		{"gateway:\n  address: 127.0.0.1:0\n  tls:\n", "gateway.tls (line 3): is empty"},
	} {
		if errs := strings.Join(parseErrors(t, c.yml), "\n"); !strings.Contains(errs, c.want) {
			t.Errorf("%q: errors %s, want %q", c.yml, errs, c.want)
		}
	}
}

// check --no-secrets: missing TLS files are warnings, the rest is checked.
func TestListenerTLSNoSecrets(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "b.yml")
	writeFile(t, path, "server:\n  tls:\n    cert_file: /nonexistent/c.pem\n    key_file: /nonexistent/k.pem\n")
	c, err := LoadWith(path, LoadOptions{NoSecrets: true})
	if err != nil {
		t.Fatal(err)
	}
	if w := strings.Join(c.Warnings(), "\n"); !strings.Contains(w, "server.tls.key_file (line 4)") || !strings.Contains(w, "--no-secrets") {
		t.Fatalf("warnings: %s", w)
	}
	if s := ListenerTLSSummary(c.Server.TLS); !strings.HasPrefix(s, "files not checked") {
		t.Fatalf("summary %q", s)
	}
}

// check --no-secrets without the key still reads the certificate and the
// client CAs: a broken one is an error at its key, not hidden behind the
// missing key's warning.
func TestListenerTLSNoSecretsChecksTheCertificate(t *testing.T) {
	f := writeTLSFiles(t)
	path := filepath.Join(t.TempDir(), "b.yml")
	for _, c := range []struct{ cert, ca, want string }{
		{f.garbage, f.ca, "server.tls.cert_file (line 3): holds no PEM CERTIFICATE block"},
		{f.cert, f.garbage, "server.tls.client_ca_file (line 5): holds no PEM CERTIFICATE block"},
		{f.expiredCert, f.ca, `server.tls.cert_file (line 3): certificate "CN=old" expired at`},
	} {
		writeFile(t, path, "server:\n  tls:\n    cert_file: "+c.cert+"\n    key_file: /nonexistent/k.pem\n    client_ca_file: "+c.ca+"\n")
		_, err := LoadWith(path, LoadOptions{NoSecrets: true})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("cert %s, ca %s: err %v, want %q", c.cert, c.ca, err, c.want)
		}
	}
	writeFile(t, path, "server:\n  tls:\n    cert_file: "+f.cert+"\n    key_file: /nonexistent/k.pem\n    client_ca_file: "+f.ca+"\n")
	if _, err := LoadWith(path, LoadOptions{NoSecrets: true}); err != nil {
		t.Errorf("good certificate and CA, key absent: %v", err)
	}
}

func TestListenerCertificateExpiryWarning(t *testing.T) {
	pki := testutil.NewPKI(t)
	cert, key := pki.Issue(t, "soon", 5, time.Now().Add(48*time.Hour), false).Write(t, t.TempDir())
	c := mustParse(t, "server:\n  tls:\n    cert_file: "+cert+"\n    key_file: "+key+"\n")
	if w := strings.Join(c.Warnings(), "\n"); !strings.Contains(w, `server.tls.cert_file (line 3): certificate "CN=soon" expires at`) {
		t.Fatalf("warnings: %s", w)
	}
}
