package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/testutil"
)

// writeSecret writes content to dir/name with mode (chmod, so the umask does
// not interfere) and returns the path.
func writeSecret(t *testing.T, dir, name, content string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(dir, name)
	writeFile(t, path, content)
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

// clientCertAndKey returns a client certificate and its key as PEM.
func clientCertAndKey(t *testing.T) (certPEM, keyPEM string) {
	t.Helper()
	leaf := testutil.NewPKI(t).Issue(t, "client", 2, time.Now().Add(365*24*time.Hour), true)
	return string(leaf.CertPEM), string(leaf.KeyPEM)
}

func TestSecretFilePermissionWarnings(t *testing.T) {
	certPEM, keyPEM := clientCertAndKey(t)
	certFile := writeSecret(t, t.TempDir(), "client.pem", certPEM, 0o644)
	hmacFile := writeSecret(t, t.TempDir(), "hmac", strings.Repeat("k", 64), 0o600)
	tests := []struct {
		name string
		// file returns the configuration, given a secret file written with
		// the mode under test, and the key path that names it.
		file func(secret string) string
		key  string
	}{
		{"test_password_file", func(secret string) string {
			return imapTarget("tls: true\nproxy_port: 143\ndeep_check: true\ntest_username: u\ntest_password_file: " + secret)
		}, tp + "test_password_file (line 13)"},
		{"api password_file", func(secret string) string {
			return "server:\n  api_auth:\n    username: ops\n    password_file: " + secret + "\n"
		}, "server.api_auth.password_file (line 4)"},
		{"api bearer_token_file", func(secret string) string {
			return "server:\n  api_auth:\n    bearer_token_file: " + secret + "\n"
		}, "server.api_auth.bearer_token_file (line 3)"},
		{"passwd-file passdb", func(secret string) string {
			return "auth:\n  passdb:\n    - type: passwd_file\n      path: " + secret + "\n"
		}, "auth.passdb[0].path (line 4)"},
		{"gateway client key", func(secret string) string {
			return tlsBackend("client_certificate: "+block(certPEM)+"client_private_key_file: "+secret+"\n") + usedByAGateway
		}, fmt.Sprintf("%sclient_private_key_file (line %d)", tlsPath, 7+strings.Count(certPEM, "\n"))},
		{"inline gateway backend key", func(secret string) string {
			return "gateway:\n  address: 127.0.0.1:18080\n  endpoints:\n    - path: /x\n      proxy:\n        backend:\n          origin: https://127.0.0.1:9\n          tls:\n" +
				indent("client_certificate: "+block(certPEM)+"client_private_key_file: "+secret+"\n", 12)
		}, fmt.Sprintf("gateway.endpoints[0].proxy.backend.tls.client_private_key_file (line %d)", 10+strings.Count(certPEM, "\n"))},
		{"token fetch's inline backend key", func(secret string) string {
			return "definitions:\n  backends:\n    api:\n      origin: http://127.0.0.1:9\n      oauth2:\n        grant_type: client_credentials\n" +
				"        token_endpoint: https://127.0.0.1:9/t\n        client_id: a\n        client_secret: b\n        backend:\n          origin: https://127.0.0.1:9\n          tls:\n" +
				indent("client_certificate: "+block(certPEM)+"client_private_key_file: "+secret+"\n", 12) + usedByAGateway
		}, fmt.Sprintf("definitions.backends.api.oauth2.backend.tls.client_private_key_file (line %d)", 14+strings.Count(certPEM, "\n"))},
		{"jwt signing key_file", func(secret string) string {
			return "definitions:\n  backends:\n    api:\n      origin: http://127.0.0.1:9\n      oauth2:\n        grant_type: client_credentials\n" +
				"        token_endpoint: http://127.0.0.1:9/t\n        client_id: a\n        token_endpoint_auth_method: private_key_jwt\n" +
				"        jwt_signing_profile:\n          signature_algorithm: ES256\n          ttl: 1m\n          key_file: " + secret + "\n" + usedByAGateway
		}, "definitions.backends.api.oauth2.jwt_signing_profile.key_file (line 13)"},
		{"redis client key", func(secret string) string {
			return "storage:\n  redis:\n    primary:\n      address: 127.0.0.1:6379\n    tls:\n      enabled: true\n      cert: " +
				certFile + "\n      key: " + secret + "\nauth:\n  cache:\n    hmac_key_file: " + hmacFile + "\n"
		}, "storage.redis.tls.key (line 8)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			content := "s3cret-pw\n"
			if strings.Contains(tt.name, "key") {
				content = keyPEM
			}
			if tt.name == "passwd-file passdb" {
				content = "user:{PLAIN}s3cret-pw\n"
			}
			private := writeSecret(t, dir, "private", content, 0o600)
			if w := mustParse(t, tt.file(private)).Warnings(); len(w) != 0 {
				t.Errorf("mode 0600: warnings %q, want none", w)
			}
			for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o620} {
				open := writeSecret(t, dir, "open"+mode.String(), content, mode)
				w := mustParse(t, tt.file(open)).Warnings()
				if len(w) != 1 || !strings.HasPrefix(w[0], tt.key+": ") || !strings.Contains(w[0], open) {
					t.Errorf("mode %04o: warnings %q, want one naming %s and the file", mode, w, tt.key)
				}
				for _, s := range w {
					if strings.Contains(s, "s3cret") || strings.Contains(s, "PRIVATE") {
						t.Errorf("warning quotes the secret: %s", s)
					}
				}
			}
		})
	}
}

func TestSecretFilePermissionWarningText(t *testing.T) {
	dir := t.TempDir()
	pw := writeSecret(t, dir, "pw", "s3cret\n", 0o644)
	got := mustParse(t, "server:\n  api_auth:\n    username: ops\n    password_file: "+pw+"\n").Warnings()
	want := "server.api_auth.password_file (line 4): " + `"` + pw + `"` + " holds a secret and is open to group or other users (mode 0644); make it private to the daemon's user (chmod 600)"
	if len(got) != 1 || got[0] != want {
		t.Errorf("warnings = %q\nwant %q", got, want)
	}
}

// usedByAGateway gives definitions.backends a gateway to be used by, so
// the only warning left is the one a test is about.
const usedByAGateway = "gateway:\n  address: 127.0.0.1:18080\n"
