package config

import (
	"strings"
	"testing"
	"time"
)

func TestBalanceRandomAndP2C(t *testing.T) {
	for _, policy := range []string{BalanceRandom, BalanceP2C} {
		c := mustParse(t, originsYAML("origins: [http://a:1, {origin: http://b:1, weight: 3}]\nload_balancing: "+policy+"\nslow_start: 30s\n"))
		b := c.Definitions.Backends["api"]
		if b.LoadBalancing != policy || IsHashPolicy(policy) || b.SlowStart != 30*time.Second || b.HashKey != "" {
			t.Errorf("%s: %q hash policy %v slow_start %s hash_key %q", policy, b.LoadBalancing, IsHashPolicy(policy), b.SlowStart, b.HashKey)
		}
		// slow_start applies to both (a share of the weight), so no warning.
		if got := strings.Join(c.Warnings(), "\n"); strings.Contains(got, "slow_start") {
			t.Errorf("%s with slow_start warned: %s", policy, got)
		}
	}
}

func TestBalanceRandomErrors(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		// Nothing is hashed: hash_key names nothing, as with round_robin.
		{"origins: [http://a:1, http://b:1]\nload_balancing: random\nhash_key: X-Tenant\n", "definitions.backends.api.hash_key (line 6): needs load_balancing header_hash or cookie_hash"},
		{"origins: [http://a:1, http://b:1]\nload_balancing: p2c\nhash_key: sid\n", "definitions.backends.api.hash_key (line 6): needs load_balancing header_hash or cookie_hash"},
		{"origins: [http://a:1]\nload_balancing: p2c\nhash_cookie_set: false\n", "definitions.backends.api.hash_cookie_set (line 6): needs load_balancing cookie_hash"},
		{"origin: http://a:1\nload_balancing: random\n", "definitions.backends.api.load_balancing (line 5): needs origins (a backend with one origin has nothing to balance or retry on)"},
		{"origin: http://a:1\nload_balancing: p2c\n", "definitions.backends.api.load_balancing (line 5): needs origins (a backend with one origin has nothing to balance or retry on)"},
		// Other spellings of the peers are not aliases: the value is exact.
		{"origins: [http://a:1]\nload_balancing: P2C\n", `definitions.backends.api.load_balancing (line 5): must be one of round_robin, least_connections, weighted, random, p2c, client_ip_hash, header_hash, cookie_hash, uri_hash, got "P2C"`},
		{"origins: [http://a:1]\nload_balancing: random(2)\n", `definitions.backends.api.load_balancing (line 5): must be one of round_robin, least_connections, weighted, random, p2c, client_ip_hash, header_hash, cookie_hash, uri_hash, got "random(2)"`},
		{"origins: [http://a:1]\nload_balancing: \"p2c\\u0000\"\n", `definitions.backends.api.load_balancing (line 5): must be one of round_robin, least_connections, weighted, random, p2c, client_ip_hash, header_hash, cookie_hash, uri_hash, got "p2c\x00"`},
		{"origins: [http://a:1]\nload_balancing: least_request\n", `definitions.backends.api.load_balancing (line 5): must be one of round_robin, least_connections, weighted, random, p2c, client_ip_hash, header_hash, cookie_hash, uri_hash, got "least_request"`},
	} {
		wantError(t, originsYAML(tc.body), tc.want)
	}
}
