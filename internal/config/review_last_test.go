package config

import (
	"encoding/pem"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/testutil"
)

// keyBody is the base64 of a PEM key: none of it may reach any text.
func keyBody(keyPEM []byte) string {
	b, _ := pem.Decode(keyPEM)
	lines := strings.Split(string(keyPEM), "\n")
	if b == nil || len(lines) < 3 {
		return string(keyPEM)
	}
	return lines[1][:32]
}

func assertNoKey(t *testing.T, where string, texts []string, keyPEM []byte) {
	t.Helper()
	body := keyBody(keyPEM)
	for _, s := range texts {
		if strings.Contains(s, body) || strings.Contains(s, "PRIVATE KEY-----") {
			t.Errorf("%s: key material in %q", where, s)
		}
	}
}

// A PEM chain (leaf, then the CA, which expires within a day) is judged by
// its leaf: a leaf valid for a year warns about nothing, one expiring soon
// is named, never the CA.
func TestReviewClientCertificateChainIsJudgedByItsLeaf(t *testing.T) {
	ca := testutil.NewPKI(t)
	for _, c := range []struct {
		leaf testutil.Leaf
		want string
	}{
		{ca.Issue(t, "svc", 2, time.Now().Add(365*24*time.Hour), true), ""},
		{ca.Issue(t, "svc", 3, time.Now().Add(48*time.Hour), true), `client certificate "CN=svc" expires at`},
	} {
		dir := t.TempDir()
		cert := writeSecret(t, dir, "chain.pem", string(c.leaf.CertPEM)+string(ca.CAPEM), 0o644)
		key := writeSecret(t, dir, "key.pem", string(c.leaf.KeyPEM), 0o600)
		w := gatewayTLSWarnings(mustParse(t, tlsBackend("client_certificate_file: "+cert+"\nclient_private_key_file: "+key+"\n")))
		if c.want == "" && len(w) != 0 || c.want != "" && (len(w) != 1 || !strings.Contains(w[0], c.want)) {
			t.Errorf("chain: warnings %q, want %q", w, c.want)
		}
		for _, s := range w {
			if strings.Contains(s, "test CA") {
				t.Errorf("the CA judged: %q", s)
			}
		}
	}
}

// One file holding the key first, then the leaf and the CA, named for both
// the certificate and the key (as HAProxy's crt files are): it loads, the
// leaf is judged, the key is in no warning.
func TestReviewClientCertificateKeyFirstCombinedFile(t *testing.T) {
	ca := testutil.NewPKI(t)
	leaf := ca.Issue(t, "combined", 2, time.Now().Add(48*time.Hour), true)
	both := writeSecret(t, t.TempDir(), "both.pem", string(leaf.KeyPEM)+string(leaf.CertPEM)+string(ca.CAPEM), 0o600)
	w := gatewayTLSWarnings(mustParse(t, tlsBackend("client_certificate_file: "+both+"\nclient_private_key_file: "+both+"\n")))
	if len(w) != 1 || !strings.Contains(w[0], `"CN=combined" expires at`) {
		t.Fatalf("warnings %q", w)
	}
	assertNoKey(t, "combined", w, leaf.KeyPEM)
}

// DER files (what some PKIs hand out): the certificate is judged as PEM's.
func TestReviewClientCertificateDERFiles(t *testing.T) {
	ca := testutil.NewPKI(t)
	leaf := ca.Issue(t, "der", 2, time.Now().Add(-time.Hour), true)
	dir := t.TempDir()
	cb, _ := pem.Decode(leaf.CertPEM)
	kb, _ := pem.Decode(leaf.KeyPEM)
	cert := writeSecret(t, dir, "cert.der", string(cb.Bytes), 0o644)
	key := writeSecret(t, dir, "key.der", string(kb.Bytes), 0o600)
	w := gatewayTLSWarnings(mustParse(t, tlsBackend("client_certificate_file: "+cert+"\nclient_private_key_file: "+key+"\n")))
	if len(w) != 1 || !strings.Contains(w[0], `"CN=der" expired at`) {
		t.Fatalf("warnings %q", w)
	}
}

// Broken pairs are errors at their key, never with key material: an
// encrypted key, the key named as the certificate, the certificate as the
// key, another leaf's key.
func TestReviewClientCertificateErrorsCarryNoKey(t *testing.T) {
	ca := testutil.NewPKI(t)
	leaf := ca.Issue(t, "svc", 2, time.Now().Add(48*time.Hour), true)
	other := ca.Issue(t, "other", 3, time.Now().Add(48*time.Hour), true)
	dir := t.TempDir()
	cert, key := leaf.Write(t, dir)
	kb, _ := pem.Decode(leaf.KeyPEM)
	enc := writeSecret(t, dir, "enc.pem", string(pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: kb.Bytes})), 0o600)
	legacy := writeSecret(t, dir, "legacy.pem", string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00"}, Bytes: kb.Bytes})), 0o600)
	otherKey := writeSecret(t, dir, "other.pem", string(other.KeyPEM), 0o600)
	for _, c := range []struct{ name, cert, key, want string }{
		{"encrypted", cert, enc, "encrypted"},
		{"legacy encrypted", cert, legacy, "encrypted"},
		{"key as certificate", key, key, "client_certificate_file"},
		{"certificate as key", cert, cert, "client_private_key_file"},
		{"other key", cert, otherKey, "does not match"},
	} {
		errs := parseErrors(t, tlsBackend("client_certificate_file: "+c.cert+"\nclient_private_key_file: "+c.key+"\n"))
		if got := strings.Join(errs, "\n"); !strings.Contains(got, c.want) {
			t.Errorf("%s: %s, want %q", c.name, got, c.want)
		}
		assertNoKey(t, c.name, errs, leaf.KeyPEM)
		assertNoKey(t, c.name, errs, other.KeyPEM)
	}
}

// readFileLimited opens before it judges: a directory and a missing file
// keep their errors (a missing one still errors.Is fs.ErrNotExist, which
// --no-secrets asks), devices are refused without being read.
func TestReviewReadFileLimitedOpensBeforeJudging(t *testing.T) {
	dir := t.TempDir()
	_, err := ReadSecretFile(dir)
	if err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("directory: %v", err)
	}
	if errors.Is(err, fs.ErrNotExist) {
		t.Errorf("directory taken for a missing file: %v", err)
	}
	missing := filepath.Join(dir, "nope")
	for _, read := range []func(string) error{
		func(p string) error { _, err := ReadSecretFile(p); return err },
		CheckCAFile,
	} {
		if err := read(missing); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
			t.Errorf("missing: %v", err)
		}
	}
	for _, dev := range []string{"/dev/null", "/dev/zero", "/dev/urandom"} {
		if _, err := os.Stat(dev); err != nil {
			continue
		}
		if _, err := ReadSecretFile(dev); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("%s: %v", dev, err)
		}
		if err := CheckCAFile(dev); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("%s: %v", dev, err)
		}
	}
}

// Under check --no-secrets a missing client certificate file is still
// what it was; a directory is an error at its key, as before.
func TestReviewClientCertificateDirectoryIsAnErrorAtItsKey(t *testing.T) {
	dir := t.TempDir()
	errs := parseErrors(t, tlsBackend("client_certificate_file: "+dir+"\nclient_private_key_file: "+dir+"\n"))
	if got := strings.Join(errs, "\n"); !strings.Contains(got, tlsPath) || !strings.Contains(got, "is a directory") {
		t.Errorf("directory: %s", got)
	}
}

// What is not a regular file is refused for being one, before any open:
// opening a device can have effects of its own (a tape rewinds, a watchdog
// starts), and a socket cannot be opened at all, so opening first turned
// "not a regular file" into "no such device or address".
func TestReviewSocketIsRefusedAsNotARegularFile(t *testing.T) {
	dir, err := os.MkdirTemp("/tmp", "rl")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "s")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Skipf("unix socket: %v", err)
	}
	defer l.Close()
	if _, err := ReadSecretFile(sock); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("secret file: %v", err)
	}
	if err := CheckCAFile(sock); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("CA file: %v", err)
	}
	if err := checkReadable(sock); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("lua script: %v", err)
	}
}

// A backend proxy written without its scheme that net/url cannot parse is
// refused without its password (redact.URL took the user info only after
// "://").
func TestReviewBackendProxyWithoutSchemeHidesThePassword(t *testing.T) {
	for _, proxy := range []string{`"007:SECRET x@proxy:3128"`, `"1user:pa%zzSECRET@proxy:3128"`} {
		errs := parseErrors(t, "definitions:\n  backends:\n    api:\n      origin: https://127.0.0.1:9\n      proxy: "+proxy+"\n")
		got := strings.Join(errs, "\n")
		if !strings.Contains(got, "definitions.backends.api.proxy (line 5)") || strings.Contains(got, "SECRET") {
			t.Errorf("%s: %s", proxy, got)
		}
	}
}
