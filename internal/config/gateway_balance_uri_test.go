package config

import "testing"

func TestBalanceURIHash(t *testing.T) {
	c := mustParse(t, originsYAML("origins: [http://a:1, http://b:1]\nload_balancing: uri_hash\n"))
	if b := c.Definitions.Backends["api"]; b.LoadBalancing != BalanceURIHash || b.HashKey != "" || !IsHashPolicy(b.LoadBalancing) {
		t.Errorf("uri_hash: %q hash_key %q", b.LoadBalancing, b.HashKey)
	}
	// The key is always the path: hash_key has nothing to name.
	wantError(t, originsYAML("origins: [http://a:1]\nload_balancing: uri_hash\nhash_key: whole\n"),
		"definitions.backends.api.hash_key (line 6): needs load_balancing header_hash or cookie_hash (uri_hash always hashes the path)")
	wantError(t, originsYAML("origins: [http://a:1]\nload_balancing: uri_hash\nhash_cookie_set: false\n"),
		"definitions.backends.api.hash_cookie_set (line 6): needs load_balancing cookie_hash")
	wantError(t, originsYAML("origin: http://a:1\nload_balancing: uri_hash\n"),
		"definitions.backends.api.load_balancing (line 5): needs origins (a backend with one origin has nothing to balance or retry on)")
}
