package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeKeyFile(t *testing.T, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "cache-key")
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAuthCacheKeyFileLoads(t *testing.T) {
	secret := strings.Repeat("k3y", 12)
	p := writeKeyFile(t, secret+"\n", 0o600)
	c := mustParse(t, "auth:\n  cache:\n    hmac_key_file: "+p+"\n"+redisBlock("primary:\n  address: 127.0.0.1:6379\n"))
	if string(c.Auth.Cache.HMACKey) != secret {
		t.Errorf("HMACKey = %q", c.Auth.Cache.HMACKey)
	}
	if !c.SharedAuthCache() {
		t.Error("SharedAuthCache = false with redis and a key")
	}
	for _, w := range c.Warnings() {
		if strings.Contains(w, "auth") {
			t.Errorf("unexpected warning %s", w)
		}
	}
}

func TestAuthCacheKeyFileErrors(t *testing.T) {
	short := writeKeyFile(t, "too-short-secret\n", 0o600)
	wantOnlyError(t, "auth:\n  cache:\n    hmac_key_file: "+short+"\n",
		`auth.cache.hmac_key_file (line 3): file "`+short+`" must hold at least 32 bytes of secret (for example the output of `+"`openssl rand -hex 32`"+`), got 16`)
	missing := filepath.Join(t.TempDir(), "nope")
	wantOnlyError(t, "auth:\n  cache:\n    hmac_key_file: "+missing+"\n",
		`auth.cache.hmac_key_file (line 3): cannot read "`+missing+`": no such file or directory`)
	wantOnlyError(t, "auth:\n  cache:\n    hmac_key_file: \"\"\n",
		`auth.cache.hmac_key_file (line 3): must name a file (leave it out to keep the cache per instance)`)
	// The short key's content never appears in the message.
	for _, e := range parseErrors(t, "auth:\n  cache:\n    hmac_key_file: "+short+"\n") {
		if strings.Contains(e, "too-short-secret") {
			t.Errorf("secret in error: %s", e)
		}
	}
}

func TestAuthCacheKeyWarnings(t *testing.T) {
	c := mustParse(t, redisBlock("primary:\n  address: 127.0.0.1:6379\n"))
	if c.SharedAuthCache() {
		t.Error("shared without a key")
	}
	if !strings.Contains(strings.Join(c.Warnings(), "\n"), "auth cache stays per instance") {
		t.Errorf("no warning about the per-instance cache: %v", c.Warnings())
	}
	open := writeKeyFile(t, strings.Repeat("x", 40), 0o644)
	c = mustParse(t, "auth:\n  cache:\n    hmac_key_file: "+open+"\n")
	if c.SharedAuthCache() {
		t.Error("shared without storage.redis")
	}
	if !strings.Contains(strings.Join(c.Warnings(), "\n"), "auth.cache.hmac_key_file (line 3): \""+open+"\" holds a secret and is open") {
		t.Errorf("no permission warning: %v", c.Warnings())
	}
	ttl0 := mustParse(t, "auth:\n  cache:\n    ttl: 0s\n"+redisBlock("primary:\n  address: 127.0.0.1:6379\n"))
	if len(ttl0.Warnings()) != 0 && strings.Contains(strings.Join(ttl0.Warnings(), "\n"), "auth cache") {
		t.Errorf("warning with the cache off: %v", ttl0.Warnings())
	}
}
