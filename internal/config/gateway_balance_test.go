package config

import (
	"strings"
	"testing"
	"time"
)

func TestBalanceHashParse(t *testing.T) {
	c := mustParse(t, originsYAML("origins: [http://a:1, http://b:1]\nload_balancing: header_hash\nhash_key: x-tenant\nslow_start: 30s\n"))
	b := c.Definitions.Backends["api"]
	if b.LoadBalancing != BalanceHeaderHash || b.HashKey != "x-tenant" || b.SlowStart != 30*time.Second {
		t.Errorf("backend = %q %q %s", b.LoadBalancing, b.HashKey, b.SlowStart)
	}
	c = mustParse(t, originsYAML("origins: [http://a:1, http://b:1]\nload_balancing: cookie_hash\n"))
	b = c.Definitions.Backends["api"]
	if b.HashKey != DefaultHashCookie || b.HashCookieSet == nil || !*b.HashCookieSet {
		t.Errorf("cookie_hash defaults: hash_key %q set %v", b.HashKey, b.HashCookieSet)
	}
	c = mustParse(t, originsYAML("origins: [http://a:1]\nload_balancing: cookie_hash\nhash_key: JSESSIONID\nhash_cookie_set: false\n"))
	if b := c.Definitions.Backends["api"]; b.HashKey != "JSESSIONID" || *b.HashCookieSet {
		t.Errorf("cookie_hash: hash_key %q set %v", b.HashKey, *b.HashCookieSet)
	}
	c = mustParse(t, originsYAML("origins: [http://a:1]\nload_balancing: client_ip_hash\n"))
	if b := c.Definitions.Backends["api"]; b.LoadBalancing != BalanceClientIPHash || b.SlowStart != 0 {
		t.Errorf("client_ip_hash: %+v", b.BackendAttrs)
	}
}

func TestBalanceErrors(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{"origins: [http://a:1]\nload_balancing: header_hash\n", "definitions.backends.api.load_balancing (line 5): header_hash needs hash_key: the request header whose value is hashed"},
		{"origins: [http://a:1]\nload_balancing: header_hash\nhash_key: \"x tenant\"\n", "definitions.backends.api.hash_key (line 6): must be a header name (letters, digits and !#$%&'*+-.^_`|~)"},
		{"origins: [http://a:1]\nload_balancing: header_hash\nhash_key: \"x\\r\\nevil: 1\"\n", "definitions.backends.api.hash_key (line 6): must be a header name (letters, digits and !#$%&'*+-.^_`|~)"},
		{"origins: [http://a:1]\nload_balancing: cookie_hash\nhash_key: \"a=b\"\n", "definitions.backends.api.hash_key (line 6): must be a cookie name (letters, digits and !#$%&'*+-.^_`|~)"},
		{"origins: [http://a:1]\nload_balancing: cookie_hash\nhash_key: " + strings.Repeat("k", 257) + "\n", "definitions.backends.api.hash_key (line 6): must be a cookie name of at most 256 bytes"},
		{"origins: [http://a:1]\nhash_key: x\n", "definitions.backends.api.hash_key (line 5): needs load_balancing header_hash or cookie_hash"},
		{"origins: [http://a:1]\nload_balancing: header_hash\nhash_key: x\nhash_cookie_set: false\n", "definitions.backends.api.hash_cookie_set (line 7): needs load_balancing cookie_hash"},
		{"origins: [http://a:1]\nslow_start: 10ms\n", "definitions.backends.api.slow_start (line 5): must be 0 (off) or 1s..1h0m0s, got 10ms"},
		{"origins: [http://a:1]\nslow_start: 2h\n", "definitions.backends.api.slow_start (line 5): must be 0 (off) or 1s..1h0m0s, got 2h0m0s"},
		{"origins: [http://a:1]\nslow_start: -1s\n", `definitions.backends.api.slow_start (line 5): duration "-1s" must not be negative`},
		{"origin: http://a:1\nslow_start: 10s\n", "definitions.backends.api.slow_start (line 5): needs origins (a backend with one origin has nothing to balance or retry on)"},
		{"origin: http://a:1\nload_balancing: client_ip_hash\n", "definitions.backends.api.load_balancing (line 5): needs origins (a backend with one origin has nothing to balance or retry on)"},
		{"origins: [http://a:1]\nload_balancing: ip_hash\n", `definitions.backends.api.load_balancing (line 5): must be one of round_robin, least_connections, weighted, random, p2c, client_ip_hash, header_hash, cookie_hash, uri_hash, got "ip_hash"`},
	} {
		wantError(t, originsYAML(tc.body), tc.want)
	}
}

func TestBalanceRefinementForbidden(t *testing.T) {
	for _, key := range []string{"hash_key: x", "slow_start: 10s", "hash_cookie_set: false"} {
		yml := `definitions:
  backends:
    api:
      origins: [http://127.0.0.1:1]
      load_balancing: cookie_hash
gateway:
  address: 127.0.0.1:0
  endpoints:
    - path: /
      proxy:
        backend:
          label: api
          ` + key + "\n"
		errs := strings.Join(parseErrors(t, yml), "\n")
		if !strings.Contains(errs, "backend."+strings.SplitN(key, ":", 2)[0]) {
			t.Errorf("%s in a refinement: %s", key, errs)
		}
	}
}

func TestBalanceSlowStartHashWarning(t *testing.T) {
	c := mustParse(t, originsYAML("origins: [http://a:1, http://b:1]\nload_balancing: client_ip_hash\nslow_start: 30s\n"))
	got := strings.Join(c.Warnings(), "\n")
	if !strings.Contains(got, "definitions.backends.api.slow_start") || !strings.Contains(got, "no effect with load_balancing client_ip_hash") {
		t.Errorf("warnings = %s", got)
	}
	c = mustParse(t, originsYAML("origins: [http://a:1, http://b:1]\nload_balancing: weighted\nslow_start: 30s\n"))
	if got := strings.Join(c.Warnings(), "\n"); strings.Contains(got, "slow_start") {
		t.Errorf("weighted with slow_start warned: %s", got)
	}
}
