package config

import "testing"

// Review of load_balancing random and p2c: odd spellings are refused with
// the key path and line, and the hash keys are refused with either policy
// wherever the backend is written.
func TestReviewBalanceRandomSpellings(t *testing.T) {
	const one = "must be one of round_robin, least_connections, weighted, random, p2c, client_ip_hash, header_hash, cookie_hash, uri_hash, got "
	for _, value := range []string{"Random", "RANDOM", `" p2c"`, `"p2c "`, "p2C", "power_of_two_choices", "random_two", "random2", "random(1)", "p2c2", "weighted_random", "least_request"} {
		got := value
		if got[0] == '"' {
			got = got[1 : len(got)-1]
		}
		wantError(t, originsYAML("origins: [http://a:1, http://b:1]\nload_balancing: "+value+"\n"),
			`definitions.backends.api.load_balancing (line 5): `+one+`"`+got+`"`)
	}
}

func TestReviewBalanceRandomHashKeys(t *testing.T) {
	for _, policy := range []string{BalanceRandom, BalanceP2C} {
		// hash_cookie_set at its default value is still refused: it
		// names a cookie this policy never sets.
		wantError(t, originsYAML("origins: [http://a:1, http://b:1]\nload_balancing: "+policy+"\nhash_cookie_set: true\n"),
			"definitions.backends.api.hash_cookie_set (line 6): needs load_balancing cookie_hash")
		// An empty hash_key is written, so it is refused too.
		wantError(t, originsYAML("origins: [http://a:1, http://b:1]\nload_balancing: "+policy+"\nhash_key: \"\"\n"),
			"definitions.backends.api.hash_key (line 6): needs load_balancing header_hash or cookie_hash")
		// An inline backend is checked the same way, under its own path.
		yml := "gateway:\n  endpoints:\n    - path: /x\n      proxy:\n        backend:\n          origins: [http://a:1, http://b:1]\n          load_balancing: " + policy + "\n          hash_key: sid\n"
		wantErrorWith(t, yml, ".hash_key (line 8): needs load_balancing header_hash or cookie_hash")
		// Without hash keys the policy loads and leaves hash_key empty.
		c := mustParse(t, originsYAML("origins: [http://a:1, http://b:1]\nload_balancing: "+policy+"\nslow_start: 1m\n"))
		if b := c.Definitions.Backends["api"]; b.HashKey != "" || !b.HasSeveralOrigins() {
			t.Errorf("%s: hash_key %q", policy, b.HashKey)
		}
	}
}
