package config

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/testutil"
)

// clientCertFiles are the files of the client-certificate tests.
type clientCertFiles struct {
	cert, key, otherKey, garbage string
	keyPEM                       []byte
}

func writeClientCertFiles(t *testing.T) clientCertFiles {
	t.Helper()
	dir := t.TempDir()
	ca := testutil.NewPKI(t)
	leaf := ca.Issue(t, "health check", 3, time.Now().Add(365*24*time.Hour), true)
	cert, key := leaf.Write(t, dir)
	other := ca.Issue(t, "other", 4, time.Now().Add(365*24*time.Hour), true)
	f := clientCertFiles{cert: cert, key: key, keyPEM: leaf.KeyPEM,
		otherKey: writeSecret(t, dir, "other.key", string(other.KeyPEM), 0o600),
		garbage:  writeSecret(t, dir, "garbage", "not a certificate\n", 0o600)}
	return f
}

// mtlsTarget is an implicit-TLS target with tls_cert_file on line 11 and
// tls_key_file after it (each left out when "").
func mtlsTarget(cert, key string) string {
	extra := "tls: true\nproxy_port: 143\n"
	if cert != "" {
		extra += "tls_cert_file: " + cert + "\n"
	}
	if key != "" {
		extra += "tls_key_file: " + key + "\n"
	}
	return imapTarget(extra)
}

func TestTargetClientCertificateLoads(t *testing.T) {
	f := writeClientCertFiles(t)
	c := mustParse(t, mtlsTarget(f.cert, f.key))
	tg := c.Auth.Services.BackendHealthChecks.Targets[0]
	cert := tg.ClientCert
	if cert == nil || cert.Leaf.Subject.CommonName != "health check" || cert.PrivateKey == nil {
		t.Fatalf("client certificate = %+v", cert)
	}
	if w := c.Warnings(); len(w) != 0 {
		t.Errorf("warnings: %q", w)
	}
	s := ClientCertSummary(&tg)
	if !strings.HasPrefix(s, `client certificate "CN=health check" issued by "CN=backline test CA", valid until `) {
		t.Errorf("summary %q", s)
	}
	if strings.Contains(s, "PRIVATE") || strings.Contains(s, f.key) {
		t.Errorf("summary names the key: %q", s)
	}
}

func TestTargetClientCertificateErrors(t *testing.T) {
	f := writeClientCertFiles(t)
	missing := filepath.Join(t.TempDir(), "missing.pem")
	tests := []struct{ name, cert, key, want string }{
		{"cert without key", f.cert, "",
			tp + "tls_cert_file (line 11): needs tls_key_file as well: a client certificate goes with its private key"},
		{"key without cert", "", f.key,
			tp + "tls_key_file (line 11): needs tls_cert_file as well: a private key goes with its client certificate"},
		{"missing certificate file", missing, f.key,
			tp + `tls_cert_file (line 11): cannot read "` + missing + `": no such file or directory`},
		{"missing key file", f.cert, missing,
			tp + `tls_key_file (line 12): cannot read "` + missing + `": no such file or directory`},
		{"certificate not PEM", f.garbage, f.key,
			tp + "tls_cert_file (line 11): holds neither a PEM nor a DER certificate: x509: malformed certificate"},
		{"key not PEM", f.cert, f.garbage,
			tp + "tls_key_file (line 12): is not a PKCS #8, PKCS #1 or SEC 1 private key"},
		{"key file given as certificate", f.key, f.key,
			tp + "tls_cert_file (line 11): holds no PEM CERTIFICATE block"},
		{"certificate given as key", f.cert, f.cert,
			tp + "tls_key_file (line 12): holds no PEM PRIVATE KEY block"},
		{"key is a device", f.cert, "/dev/zero",
			tp + `tls_key_file (line 12): "/dev/zero" is not a regular file`},
		{"certificate is a directory", filepath.Dir(f.cert), f.key,
			tp + `tls_cert_file (line 11): cannot read "` + filepath.Dir(f.cert) + `": is a directory`},
		{"key of another certificate", f.cert, f.otherKey,
			tp + "tls_key_file (line 12): does not match the public key of the first certificate in tls_cert_file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			yml := mtlsTarget(tt.cert, tt.key)
			wantOnlyError(t, yml, tt.want)
			// The key's content never appears in any message.
			for _, e := range parseErrors(t, yml) {
				for _, line := range strings.Split(string(f.keyPEM), "\n") {
					if len(line) >= 16 && !strings.HasPrefix(line, "-----") && strings.Contains(e, line) {
						t.Errorf("error quotes the key: %s", e)
					}
				}
			}
		})
	}
}

// A pair shared by many targets is read once per load, and a reload (the
// next load) reads the files again: a renewed certificate is picked up.
func TestTargetClientCertificateSharedAndReloaded(t *testing.T) {
	f := writeClientCertFiles(t)
	var targets strings.Builder
	for i := range 50 {
		targets.WriteString("- {name: t" + strings.Repeat("x", i) + ", protocol: imap, host: 127.0.0.1, port: 993, tls: true, proxy_port: 143, tls_cert_file: " + f.cert + ", tls_key_file: " + f.key + "}\n")
	}
	yml := withTargets(targets.String())
	before := filesRead.Load()
	c := mustParse(t, yml)
	if n := filesRead.Load() - before; n != 2 {
		t.Errorf("%d file reads for 50 targets sharing one pair, want 2", n)
	}
	ts := c.Auth.Services.BackendHealthChecks.Targets
	if ts[0].ClientCert != ts[49].ClientCert {
		t.Error("targets sharing a pair do not share its certificate")
	}

	renewed := testutil.NewPKI(t).Issue(t, "renewed", 5, time.Now().Add(365*24*time.Hour), true)
	writeFile(t, f.cert, string(renewed.CertPEM))
	writeSecret(t, filepath.Dir(f.key), filepath.Base(f.key), string(renewed.KeyPEM), 0o600)
	got := mustParse(t, yml).Auth.Services.BackendHealthChecks.Targets[0].ClientCert
	if got == nil || got.Leaf.Subject.CommonName != "renewed" {
		t.Errorf("after the files changed: %+v", got)
	}
}

func TestTargetClientCertificateWarnings(t *testing.T) {
	f := writeClientCertFiles(t)
	dir := t.TempDir()
	openKey := writeSecret(t, dir, "open.key", string(f.keyPEM), 0o644)
	w := mustParse(t, mtlsTarget(f.cert, openKey)).Warnings()
	if len(w) != 1 || !strings.HasPrefix(w[0], tp+"tls_key_file (line 12): ") || !strings.Contains(w[0], "chmod 600") {
		t.Errorf("open key file: warnings %q", w)
	}

	ca := testutil.NewPKI(t)
	for _, c := range append(expiryLeaves(t, ca),
		leafWarning{"server certificate", ca.Issue(t, "server", 8, time.Now().Add(365*24*time.Hour), false), "lacks clientAuth"}) {
		cert, key := c.leaf.Write(t, t.TempDir())
		w := mustParse(t, mtlsTarget(cert, key)).Warnings()
		if len(w) != 1 || !strings.HasPrefix(w[0], tp+"tls_cert_file (line 11): ") || !strings.Contains(w[0], c.want) {
			t.Errorf("%s: warnings %q, want one containing %q", c.name, w, c.want)
		}
	}

	plain := imapTarget("tls_cert_file: " + f.cert + "\ntls_key_file: " + f.key + "\n")
	w = mustParse(t, plain).Warnings()
	if len(w) != 1 || !strings.Contains(w[0], "tls_cert_file and tls_key_file are ignored with tls_mode plain") {
		t.Errorf("plain target: warnings %q", w)
	}
}

// One warning per certificate file, however many targets share it, at the
// first of them and with their number; another file has its own.
func TestTargetClientCertificateWarningsOncePerFile(t *testing.T) {
	ca := testutil.NewPKI(t)
	soonCert, soonKey := ca.Issue(t, "soon", 9, time.Now().Add(72*time.Hour), true).Write(t, t.TempDir())
	oldCert, oldKey := ca.Issue(t, "old", 10, time.Now().Add(-time.Minute), true).Write(t, t.TempDir())
	var targets strings.Builder
	for i := range 1000 {
		cert, key := soonCert, soonKey
		if i == 500 {
			cert, key = oldCert, oldKey
		}
		fmt.Fprintf(&targets, "- {name: t%d, protocol: imap, host: 127.0.0.1, port: 993, tls: true, proxy_port: 143, tls_cert_file: %s, tls_key_file: %s}\n", i, cert, key)
	}
	w := mustParse(t, withTargets(targets.String())).Warnings()
	if len(w) != 2 {
		t.Fatalf("%d warnings, want 2: %q", len(w), w[:min(len(w), 3)])
	}
	if !strings.HasPrefix(w[0], tp+"tls_cert_file (line ") || !strings.Contains(w[0], `client certificate "CN=soon" expires at`) ||
		!strings.HasSuffix(w[0], "(999 targets use this certificate file)") {
		t.Errorf("shared file: %q", w[0])
	}
	if !strings.Contains(w[1], "targets[500].tls_cert_file") || !strings.Contains(w[1], `"CN=old" expired`) || strings.Contains(w[1], "targets use") {
		t.Errorf("file of one target: %q", w[1])
	}
}

// A key file open to others and shared by targets is one warning too.
func TestTargetClientKeyOpenWarnedOncePerFile(t *testing.T) {
	f := writeClientCertFiles(t)
	openKey := writeSecret(t, t.TempDir(), "open.key", string(f.keyPEM), 0o644)
	var targets strings.Builder
	for i := range 3 {
		fmt.Fprintf(&targets, "- {name: t%d, protocol: imap, host: 127.0.0.1, port: 993, tls: true, proxy_port: 143, tls_cert_file: %s, tls_key_file: %s}\n", i, f.cert, openKey)
	}
	w := mustParse(t, withTargets(targets.String())).Warnings()
	if len(w) != 1 || !strings.HasPrefix(w[0], tp+"tls_key_file (line ") || !strings.HasSuffix(w[0], "(chmod 600) (3 keys name this file)") {
		t.Errorf("warnings %q", w)
	}
}

// check --no-secrets: a missing key file is a warning, the target goes
// without a certificate (its keys stay as written), and a broken
// certificate is still an error.
func TestTargetClientCertificateNoSecrets(t *testing.T) {
	f := writeClientCertFiles(t)
	path := filepath.Join(t.TempDir(), "b.yml")
	writeFile(t, path, mtlsTarget(f.cert, "/nonexistent/k.pem"))
	c, err := LoadWith(path, LoadOptions{NoSecrets: true})
	if err != nil {
		t.Fatal(err)
	}
	if w := strings.Join(c.Warnings(), "\n"); !strings.Contains(w, tp+"tls_key_file (line 12)") || !strings.Contains(w, "--no-secrets") {
		t.Errorf("warnings: %s", w)
	}
	if tg := c.Auth.Services.BackendHealthChecks.Targets[0]; tg.ClientCert != nil || tg.TLSCertFile != f.cert {
		t.Errorf("target loaded a certificate or lost its keys: %+v", tg)
	}

	writeFile(t, path, mtlsTarget(f.garbage, "/nonexistent/k.pem"))
	if _, err := LoadWith(path, LoadOptions{NoSecrets: true}); err == nil || !strings.Contains(err.Error(), "tls_cert_file (line 11): holds neither") {
		t.Errorf("broken certificate under --no-secrets: %v", err)
	}
}
