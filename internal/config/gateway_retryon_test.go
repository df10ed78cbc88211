package config

import (
	"slices"
	"testing"
)

func TestRetryOnParse(t *testing.T) {
	c := mustParse(t, originsYAML("origins: [http://127.0.0.1:8081, http://127.0.0.1:8082]\nretry_on: [connect_failure, Reset, timeout, 502, \"503\", 504]\n"))
	if got := c.Definitions.Backends["api"].RetryOn; !slices.Equal(got, RetryOnValues) {
		t.Errorf("retry_on = %q, want %q", got, RetryOnValues)
	}
	c = mustParse(t, originsYAML("origins: [http://127.0.0.1:8081]\n"))
	if got := c.Definitions.Backends["api"].RetryOn; !slices.Equal(got, []string{RetryOnConnectFailure}) {
		t.Errorf("default retry_on = %q, want connect_failure", got)
	}
}

func TestRetryOnErrors(t *testing.T) {
	const p = "definitions.backends.api.retry_on"
	for _, tc := range []struct{ body, want string }{
		{"retry_on: []\n", p + " (line 5): must list at least one of connect_failure, reset, timeout, 502, 503, 504"},
		{"retry_on: [503, 503]\n", p + `[1] (line 5): duplicates retry_on[0] ("503")`},
		{"retry_on:\n  - 503\n  - 500\n", p + "[1] (line 7): status 500 is not retried: only 502, 503 and 504"},
		{"retry_on: [5xx]\n", p + `[0] (line 5): "5xx" is not taken: list the statuses one by one`},
		{"retry_on: [non_idempotent]\n", p + `[0] (line 5): "non_idempotent" is not taken: beyond a failed connect only idempotent requests`},
		{"retry_on: [post]\n", p + `[0] (line 5): "post" is not taken: beyond a failed connect only idempotent requests`},
		{"retry_on: [always]\n", p + `[0] (line 5): "always" is not a retry condition`},
		{"retry_on: [\"\"]\n", p + `[0] (line 5): "" is not a retry condition`},
	} {
		wantErrorWith(t, originsYAML("origins: [http://a:1]\n"+tc.body), tc.want)
	}
	wantError(t, originsYAML("origin: http://a:1\nretry_on: [503]\n"), p+" (line 5): needs origins (a backend with one origin has nothing to balance or retry on)")
	for _, body := range []string{
		"retry_on: 503\n", // not a list
		"retry_on: [[503]]\n",
		"retry_on: {a: 1}\n",
		"retry_on: [\"503\\n\"]\n",
	} {
		parseErrors(t, originsYAML("origins: [http://a:1]\n"+body)) // each must be refused
	}
}

func TestRetryOnRefinementForbidden(t *testing.T) {
	yml := `definitions:
  backends:
    api:
      origins: [http://127.0.0.1:1]
gateway:
  address: 127.0.0.1:0
  endpoints:
    - path: /x
      proxy:
        backend:
          label: api
          retry_on: [503]
`
	wantError(t, yml, `gateway.endpoints[0].proxy.backend.retry_on (line 12): backend reference: refinement for "api" is not permitted (retry_on)`)
}

func TestRetryOnWarning(t *testing.T) {
	want := "definitions.backends.api.retry_on (line 6): retry_on has no effect: a retry needs retries of at least 1 and a second origin (a retry never goes to the origin that failed)"
	for _, body := range []string{
		"origins: [http://127.0.0.1:1, http://127.0.0.1:2]\nretries: 0\nretry_on: [503]\n",
		"origins: [http://127.0.0.1:1]\nretries: 2\nretry_on: [503]\n",
	} {
		c := mustParse(t, originsYAML(body)+usedByAGateway)
		if w := c.Warnings(); len(w) != 1 || w[0] != want {
			t.Errorf("%q: warnings %q", body, w)
		}
	}
	c := mustParse(t, originsYAML("origins: [http://127.0.0.1:1, http://127.0.0.1:2]\nretry_on: [503]\n")+usedByAGateway)
	if w := c.Warnings(); len(w) != 0 {
		t.Errorf("warnings %q", w)
	}
}
