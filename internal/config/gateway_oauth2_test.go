package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSigningKeyFileNoSecrets: a key_file missing on this machine fails
// the load, and is a warning with key path and line under --no-secrets.
func TestSigningKeyFileNoSecrets(t *testing.T) {
	const yml = `definitions:
  backends:
    api:
      origin: http://127.0.0.1:9
      oauth2:
        grant_type: client_credentials
        token_endpoint: http://127.0.0.1:9/t
        client_id: a
        token_endpoint_auth_method: private_key_jwt
        jwt_signing_profile:
          signature_algorithm: RS256
          ttl: 1m
          key_file: /nonexistent/backline/key.pem
`
	path := filepath.Join(t.TempDir(), "c.yml")
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadWith(path, LoadOptions{}); err == nil || !strings.Contains(err.Error(), "jwt_signing_profile.key_file (line 13)") {
		t.Fatalf("load: %v", err)
	}
	c, err := LoadWith(path, LoadOptions{NoSecrets: true})
	if err != nil {
		t.Fatalf("load --no-secrets: %v", err)
	}
	if w := strings.Join(c.Warnings(), "\n"); !strings.Contains(w, "jwt_signing_profile.key_file (line 13)") || !strings.Contains(w, "--no-secrets") {
		t.Fatalf("warnings %q", w)
	}
}
