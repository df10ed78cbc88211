package config

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/testutil"
)

const missingTargetFile = "/nonexistent/backline/target.pem"

// leafWarning is a client certificate and the warning it draws.
type leafWarning struct {
	name string
	leaf testutil.Leaf
	want string
}

// expiryLeaves are an expired client certificate and one expiring soon.
func expiryLeaves(t *testing.T, ca *testutil.PKI) []leafWarning {
	t.Helper()
	return []leafWarning{
		{"expired", ca.Issue(t, "old", 6, time.Now().Add(-time.Minute), true), `client certificate "CN=old" expired at`},
		{"expiring", ca.Issue(t, "soon", 7, time.Now().Add(72*time.Hour), true), `client certificate "CN=soon" expires at`},
	}
}

// loadTarget loads yml with opts; the error is the test's to judge.
func loadTarget(t *testing.T, yml string, o LoadOptions) (*Config, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c.yml")
	writeFile(t, path, yml)
	return LoadWith(path, o)
}

// check --no-secrets relaxes reading a missing file, nothing else: half a
// client pair is refused at the same key as serve refuses it, whether the
// file written is here or not.
func TestTargetTLSNoSecretsKeepsHalfPairRefused(t *testing.T) {
	f := writeClientCertFiles(t)
	for _, c := range []struct{ name, cert, key, want string }{
		{"missing certificate alone", missingTargetFile, "", tp + "tls_cert_file (line 11): needs tls_key_file as well"},
		{"present certificate alone", f.cert, "", tp + "tls_cert_file (line 11): needs tls_key_file as well"},
		{"missing key alone", "", missingTargetFile, tp + "tls_key_file (line 11): needs tls_cert_file as well"},
		{"present key alone", "", f.key, tp + "tls_key_file (line 11): needs tls_cert_file as well"},
	} {
		for _, o := range []LoadOptions{{}, {NoSecrets: true}} {
			_, err := loadTarget(t, mtlsTarget(c.cert, c.key), o)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s, no-secrets %v: %v\nwant %q", c.name, o.NoSecrets, err, c.want)
			}
		}
	}
}

// With both written and one missing, the missing one is a warning at its
// key and line, the keys stay as written, and serve still refuses it.
func TestTargetTLSNoSecretsMissingHalfIsWarning(t *testing.T) {
	f := writeClientCertFiles(t)
	for _, c := range []struct{ name, cert, key, want string }{
		{"key missing", f.cert, missingTargetFile, tp + "tls_key_file (line 12): "},
		{"certificate missing", missingTargetFile, f.key, tp + "tls_cert_file (line 11): "},
	} {
		yml := mtlsTarget(c.cert, c.key)
		if _, err := loadTarget(t, yml, LoadOptions{}); err == nil || !strings.Contains(err.Error(), c.want+`cannot read "`+missingTargetFile) {
			t.Errorf("%s: serve: %v", c.name, err)
		}
		cfg, err := loadTarget(t, yml, LoadOptions{NoSecrets: true})
		if err != nil {
			t.Fatalf("%s: --no-secrets: %v", c.name, err)
		}
		if w := strings.Join(cfg.Warnings(), "\n"); !strings.Contains(w, c.want) || !strings.Contains(w, "--no-secrets") {
			t.Errorf("%s: warnings lack %q:\n%s", c.name, c.want, w)
		}
		tg := cfg.Auth.Services.BackendHealthChecks.Targets[0]
		if tg.TLSCertFile != c.cert || tg.TLSKeyFile != c.key || tg.ClientCert != nil {
			t.Errorf("%s: target cert %q key %q loaded %v", c.name, tg.TLSCertFile, tg.TLSKeyFile, tg.ClientCert != nil)
		}
	}
}

// A key that is here but open to other users is warned about by check
// --no-secrets when the certificate is missing.
func TestTargetTLSNoSecretsPresentKeyModeWarned(t *testing.T) {
	f := writeClientCertFiles(t)
	openKey := writeSecret(t, t.TempDir(), "open.key", string(f.keyPEM), 0o644)
	cfg, err := loadTarget(t, mtlsTarget(missingTargetFile, openKey), LoadOptions{NoSecrets: true})
	if err != nil {
		t.Fatal(err)
	}
	w := strings.Join(cfg.Warnings(), "\n")
	if !strings.Contains(w, tp+"tls_key_file (line 12): ") || !strings.Contains(w, "chmod 600") {
		t.Errorf("warnings lack the mode warning:\n%s", w)
	}
}

// A certificate that is here and has expired or expires soon is warned
// about by check --no-secrets when only the key is missing.
func TestTargetTLSNoSecretsPresentCertExpiryWarned(t *testing.T) {
	for _, c := range expiryLeaves(t, testutil.NewPKI(t)) {
		cert, _ := c.leaf.Write(t, t.TempDir())
		cfg, err := loadTarget(t, mtlsTarget(cert, missingTargetFile), LoadOptions{NoSecrets: true})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		want := tp + "tls_cert_file (line 11): " + c.want
		if w := strings.Join(cfg.Warnings(), "\n"); !strings.Contains(w, want) {
			t.Errorf("%s: warnings lack %q:\n%s", c.name, want, w)
		}
	}
}

// A missing tls_ca_file is a warning at its key and line; the key stays
// as written, so the tls_mode plain warning still names it.
func TestTargetTLSNoSecretsMissingCA(t *testing.T) {
	yml := imapTarget("tls: true\nproxy_port: 143\ntls_ca_file: " + missingTargetFile + "\n")
	if _, err := loadTarget(t, yml, LoadOptions{}); err == nil || !strings.Contains(err.Error(), tp+"tls_ca_file (line 11): ") {
		t.Errorf("serve: %v", err)
	}
	cfg, err := loadTarget(t, yml, LoadOptions{NoSecrets: true})
	if err != nil {
		t.Fatal(err)
	}
	if w := strings.Join(cfg.Warnings(), "\n"); !strings.Contains(w, tp+"tls_ca_file (line 11): ") || !strings.Contains(w, "--no-secrets") {
		t.Errorf("warnings:\n%s", w)
	}
	if got := cfg.Auth.Services.BackendHealthChecks.Targets[0].TLSCAFile; got != missingTargetFile {
		t.Errorf("tls_ca_file = %q, want it as written", got)
	}

	plain := imapTarget("tls_mode: plain\ntls_ca_file: " + missingTargetFile + "\n")
	cfg, err = loadTarget(t, plain, LoadOptions{NoSecrets: true})
	if err != nil {
		t.Fatal(err)
	}
	if w := strings.Join(cfg.Warnings(), "\n"); !strings.Contains(w, "ignored with tls_mode plain") {
		t.Errorf("plain target: warnings:\n%s", w)
	}
}

// A listener certificate that is here and expires soon is warned about by
// check --no-secrets when only its key is missing.
func TestListenerTLSNoSecretsCertExpiryWithoutKey(t *testing.T) {
	ca := testutil.NewPKI(t)
	cert, _ := ca.Issue(t, "soon", 11, time.Now().Add(72*time.Hour), false).Write(t, t.TempDir())
	yml := "server:\n  tls:\n    cert_file: " + cert + "\n    key_file: " + missingTargetFile + "\n"
	cfg, err := loadTarget(t, yml, LoadOptions{NoSecrets: true})
	if err != nil {
		t.Fatal(err)
	}
	want := `server.tls.cert_file (line 3): certificate "CN=soon" expires at`
	if w := strings.Join(cfg.Warnings(), "\n"); !strings.Contains(w, want) {
		t.Errorf("warnings lack %q:\n%s", want, w)
	}
}
