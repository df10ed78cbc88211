package config

import (
	"strconv"
	"strings"
	"testing"
)

// inlineYAML is an endpoint whose proxy backend is the inline body (line 7
// is its first key).
func inlineYAML(body string) string {
	return "gateway:\n  address: 127.0.0.1:18999\n  endpoints:\n    - path: /x\n      proxy:\n        backend:\n" + indent(body, 10)
}

func TestInlineBackendWarnings(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{"origins: [http://127.0.0.1:1, http://127.0.0.1:2]\npanic_threshold: 50\n",
			"gateway.endpoints[0].proxy.backend.panic_threshold (line 8): panic_threshold has no effect: without beta_health or passive_health"},
		{"origins: [http://127.0.0.1:1, http://127.0.0.1:2]\nload_balancing: cookie_hash\nslow_start: 30s\n",
			"gateway.endpoints[0].proxy.backend.slow_start (line 9): slow_start has no effect with load_balancing cookie_hash"},
		{"origins: [http://127.0.0.1:1]\nretry_on: [502]\n",
			"gateway.endpoints[0].proxy.backend.retry_on (line 8): retry_on has no effect"},
		{"origins: [http://127.0.0.1:1]\npassive_health: {}\n",
			"gateway.endpoints[0].proxy.backend.passive_health (line 8): max_ejection_percent 50 of 1 origin(s) allows no ejection"},
	} {
		c := mustParse(t, inlineYAML(tc.body))
		if got := strings.Join(c.Warnings(), "\n"); !strings.Contains(got, tc.want) {
			t.Errorf("%q:\n got %q\nwant %q", tc.body, got, tc.want)
		}
	}
	// A request backend too, and a refinement is not an inline backend.
	c := mustParse(t, "definitions:\n  backends:\n    api:\n      origins: [http://127.0.0.1:1, http://127.0.0.1:2]\n      beta_health: {}\n"+
		"gateway:\n  address: 127.0.0.1:18999\n  endpoints:\n    - path: /x\n      request:\n        backend:\n          origins: [http://127.0.0.1:1, http://127.0.0.1:2]\n          panic_threshold: 60\n"+
		"    - path: /y\n      proxy:\n        backend:\n          label: api\n          timeout: 5s\n")
	w := c.Warnings()
	if len(w) != 1 || !strings.HasPrefix(w[0], "gateway.endpoints[0].request.backend.panic_threshold (line 13): ") {
		t.Errorf("warnings %q", w)
	}
}

func TestPanicThresholdUnreachableByEjection(t *testing.T) {
	four := "origins: [http://127.0.0.1:1, http://127.0.0.1:2, http://127.0.0.1:3, http://127.0.0.1:4]\n"
	for _, tc := range []struct {
		name, body string
		warn       bool
	}{
		// 50 % of 4 ejects 2: 2 of 4 eligible is not below 50.
		{"at the cap", four + "passive_health: {}\npanic_threshold: 50\n", true},
		// 2 of 4 is below 51.
		{"above the cap", four + "passive_health: {}\npanic_threshold: 51\n", false},
		{"cap allows all", four + "passive_health: {max_ejection_percent: 100}\npanic_threshold: 1\n", false},
		{"no ejection", "origins: [http://127.0.0.1:1]\npassive_health: {}\npanic_threshold: 100\n", true},
		{"one of two", "origins: [http://127.0.0.1:1, http://127.0.0.1:2]\npassive_health: {}\npanic_threshold: 51\n", false},
		{"active checks", four + "passive_health: {}\nbeta_health: {}\npanic_threshold: 50\n", false},
		// Weight 0 counts toward the cap but is not usable: 4 members
		// eject 2 of the 3 usable, 1 of 3 is below 34.
		{"weight zero", "origins: [http://127.0.0.1:1, http://127.0.0.1:2, http://127.0.0.1:3, {origin: 'http://127.0.0.1:4', weight: 0}]\npassive_health: {}\npanic_threshold: 34\n", false},
		{"weight zero at the cap", "origins: [http://127.0.0.1:1, http://127.0.0.1:2, http://127.0.0.1:3, {origin: 'http://127.0.0.1:4', weight: 0}]\npassive_health: {}\npanic_threshold: 33\n", true},
		// Both primaries ejected: the two backups are judged, all eligible.
		{"backups take over", "origins: [http://127.0.0.1:1, http://127.0.0.1:2, {origin: 'http://127.0.0.1:3', backup: true}, {origin: 'http://127.0.0.1:4', backup: true}]\npassive_health: {}\npanic_threshold: 50\n", true},
		// One primary ejected of two: 1 of 2 is below 51.
		{"primaries below", "origins: [http://127.0.0.1:1, http://127.0.0.1:2, {origin: 'http://127.0.0.1:3', backup: true}, {origin: 'http://127.0.0.1:4', backup: true}]\npassive_health: {}\npanic_threshold: 51\n", false},
		// One primary, one backup, 100 %: both ejected, the primary is judged with none eligible.
		{"all ejected", "origins: [http://127.0.0.1:1, {origin: 'http://127.0.0.1:2', backup: true}]\npassive_health: {max_ejection_percent: 100}\npanic_threshold: 1\n", false},
		// Cap 1 of 2: the primary ejected, the backup judged and eligible.
		{"backup holds", "origins: [http://127.0.0.1:1, {origin: 'http://127.0.0.1:2', backup: true}]\npassive_health: {}\npanic_threshold: 100\n", true},
	} {
		c := mustParse(t, originsYAML(tc.body)+usedByAGateway)
		got := strings.Join(c.Warnings(), "\n")
		if has := strings.Contains(got, "never triggers on passive health alone"); has != tc.warn {
			t.Errorf("%s: warned %v, want %v: %q", tc.name, has, tc.warn, got)
		}
	}
	c := mustParse(t, originsYAML(four+"passive_health: {}\npanic_threshold: 50\n")+usedByAGateway)
	want := "definitions.backends.api.panic_threshold (line 6): panic_threshold 50 never triggers on passive health alone: max_ejection_percent 50 ejects at most 2 of 4 origin(s), which leaves at least 2 of 4 eligible in the tier a pick draws from;"
	if w := strings.Join(c.Warnings(), "\n"); !strings.Contains(w, want) {
		t.Errorf("got %q\nwant %q", w, want)
	}
}

func TestSecureCookiePrefixWarning(t *testing.T) {
	body := "origins: [http://127.0.0.1:1, http://127.0.0.1:2]\nload_balancing: cookie_hash\nhash_key: __Host-lb\n"
	c := mustParse(t, inlineYAML(body))
	want := `gateway.endpoints[0].proxy.backend.hash_key (line 9): cookie "__Host-lb" is set with Secure`
	if got := strings.Join(c.Warnings(), "\n"); !strings.Contains(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
	for _, tc := range []string{
		inlineYAML(body) + "  trusted_proxies: [127.0.0.1]\n",
		inlineYAML(body + "hash_cookie_set: false\n"),
		inlineYAML(strings.Replace(body, "__Host-lb", "lb", 1)),
	} {
		if got := strings.Join(mustParse(t, tc).Warnings(), "\n"); strings.Contains(got, "is set with Secure") {
			t.Errorf("%s: warned %q", tc, got)
		}
	}
	if !HasSecureCookiePrefix("__secure-x") || HasSecureCookiePrefix("__Host") || HasSecureCookiePrefix("x__Host-") {
		t.Error("HasSecureCookiePrefix")
	}
}

// A token fetch's inline backend is warned about under its own key path.
func TestTokenInlineBackendWarnings(t *testing.T) {
	c := mustParse(t, `definitions:
  backends:
    api:
      origin: http://127.0.0.1:9
      oauth2:
        grant_type: client_credentials
        token_endpoint: http://127.0.0.1:9/t
        client_id: a
        client_secret: b
        backend:
          origins: [http://127.0.0.1:1, http://127.0.0.1:2]
          panic_threshold: 50
`)
	want := "definitions.backends.api.oauth2.backend.panic_threshold (line 12): panic_threshold has no effect"
	if got := strings.Join(c.Warnings(), "\n"); !strings.Contains(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

// Every warning about a backend's own keys reaches every inline backend,
// nested ones included: a token fetch's inline backend (oauth2,
// beta_token_request) of a definitions backend or of an endpoint's inline
// backend, and one inside another. queueWarnings and the origins backup
// warning looked only at definitions (and endpoint) backends before.
func TestNestedInlineBackendWarnings(t *testing.T) {
	const body = "origins: [{origin: 'http://127.0.0.1:1', backup: true}]\nmax_queue: 10\n"
	oauth2 := func(backend string, n int) string {
		return indent("oauth2:\n  grant_type: client_credentials\n  token_endpoint: http://127.0.0.1:9/t\n  client_id: a\n  client_secret: b\n  backend:\n"+indent(backend, 4), n)
	}
	for _, tc := range []struct{ name, yml, path string }{
		{"definitions oauth2", "definitions:\n  backends:\n    api:\n      origin: http://127.0.0.1:9\n" + oauth2(body, 6),
			"definitions.backends.api.oauth2.backend"},
		{"definitions beta_token_request", "definitions:\n  backends:\n    api:\n      origin: http://127.0.0.1:9\n      beta_token_request:\n        tok:\n          url: /t\n          token: t\n          ttl: 1s\n          backend:\n" + indent(body, 12),
			"definitions.backends.api.beta_token_request.tok.backend"},
		{"endpoint inline oauth2", inlineYAML("origin: http://127.0.0.1:9\n" + oauth2(body, 0)),
			"gateway.endpoints[0].proxy.backend.oauth2.backend"},
		{"oauth2 inside oauth2", "definitions:\n  backends:\n    api:\n      origin: http://127.0.0.1:9\n" + oauth2("origin: http://127.0.0.1:8\n"+oauth2(body, 0), 6),
			"definitions.backends.api.oauth2.backend.oauth2.backend"},
		{"endpoint inline", inlineYAML(body), "gateway.endpoints[0].proxy.backend"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := mustParse(t, tc.yml+usedByAGatewayIfNone(tc.yml))
			got := strings.Join(c.Warnings(), "\n")
			for _, want := range []string{
				tc.path + ".max_queue (line " + strconv.Itoa(lineOf(tc.yml, "max_queue:")) + "): ",
				"has no effect without max_connections",
				tc.path + ".origins[0].backup (line " + strconv.Itoa(lineOf(tc.yml, "backup: true")) + "): ",
				"every origin is a backup",
			} {
				if !strings.Contains(got, want) {
					t.Errorf("warnings %q\nwant %q", got, want)
				}
			}
		})
	}
}

// lineOf is the 1-based line of yml that contains s.
func lineOf(yml, s string) int {
	for i, line := range strings.Split(yml, "\n") {
		if strings.Contains(line, s) {
			return i + 1
		}
	}
	return 0
}

// usedByAGatewayIfNone adds a gateway listener to yml when it has none,
// so definitions backends are compiled and warned about.
func usedByAGatewayIfNone(yml string) string {
	if strings.Contains(yml, "\ngateway:") || strings.HasPrefix(yml, "gateway:") {
		return ""
	}
	return usedByAGateway
}
