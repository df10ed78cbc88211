package gateway

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
)

const defsAPI = `definitions:
  backends:
    api:
      origin: http://127.0.0.1:9
      path: /a
`

// wantConfigError parses yml and expects one error containing each of want.
func wantConfigError(t *testing.T, yml string, want ...string) {
	t.Helper()
	_, err := config.Parse([]byte(yml))
	if err == nil {
		t.Fatalf("no error for\n%s", yml)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Fatalf("error %q does not contain %q", err, w)
		}
	}
}

func refinement(attr string) string {
	return defsAPI + `gateway:
  address: 127.0.0.1:18999
  endpoints:
    - path: /x
      proxy:
        backend:
          label: api
` + attr
}

func TestRefinementForbiddenAttributes(t *testing.T) {
	for _, c := range []struct{ key, yml string }{
		{"disable_certificate_validation", "          disable_certificate_validation: true\n"},
		{"disable_connection_reuse", "          disable_connection_reuse: true\n"},
		{"http2", "          http2: true\n"},
		{"max_connections", "          max_connections: 2\n"},
		{"beta_health", "          beta_health:\n            path: /h\n"},
		{"beta_rate_limit", "          beta_rate_limit:\n            period: 1s\n            per_period: 1\n"},
		{"beta_rate_limit", "          throttle:\n            period: 1s\n            per_period: 1\n"},
		{"tls", "          tls:\n            server_ca_certificate_file: /nonexistent\n"},
	} {
		t.Run(c.key, func(t *testing.T) {
			wantConfigError(t, refinement(c.yml),
				"gateway.endpoints[0].proxy.backend."+c.key+" (line 13)",
				`backend reference: refinement for "api" is not permitted`)
		})
	}
}

func TestRefinementOrigin(t *testing.T) {
	// Equal by value: allowed (Couper rejects even this; backline compares values).
	if _, err := config.Parse([]byte(refinement("          origin: http://127.0.0.1:9\n"))); err != nil {
		t.Fatalf("equal origin refused: %v", err)
	}
	wantConfigError(t, refinement("          origin: http://127.0.0.2:9\n"),
		"gateway.endpoints[0].proxy.backend.origin (line 13)", "backend reference: origin must be equal")
}

func TestUnknownBackendLabel(t *testing.T) {
	wantConfigError(t, defsAPI+"gateway:\n  address: 127.0.0.1:18999\n  endpoints:\n    - path: /x\n      proxy:\n        backend: nope\n",
		`gateway.endpoints[0].proxy.backend (line 11): referenced backend "nope" is not defined`)
	wantConfigError(t, defsAPI+"gateway:\n  address: 127.0.0.1:18999\n  endpoints:\n    - path: /x\n      proxy:\n        backend:\n          label: nope\n",
		`referenced backend "nope" is not defined`)
}

func TestBackendValidation(t *testing.T) {
	for _, c := range []struct{ name, yml, want string }{
		{"negative duration", "      timeout: -1s\n", `definitions.backends.api.timeout (line 5): duration "-1s" must not be negative`},
		{"bad duration", "      ttfb_timeout: 5 seconds\n", "definitions.backends.api.ttfb_timeout (line 5): invalid duration"},
		{"bad status", "      set_response_status: 42\n", "set_response_status (line 5): must be an HTTP status"},
		{"traversal", "      path: /a/../b\n", "path traversal not allowed"},
		{"throttle zero", "      throttle:\n        period: 0s\n        per_period: 1\n", "'period' must be greater than 0"},
		{"throttle mode", "      throttle:\n        period: 1s\n        per_period: 1\n        mode: drop\n", "unsupported 'mode' (\"drop\")"},
		{"throttle window", "      throttle:\n        period: 1s\n        per_period: 1\n        period_window: test\n", "unsupported 'period_window'"},
		{"throttle duplicate", "      throttle:\n        - period: 1m\n          per_period: 1\n        - period: 60s\n          per_period: 2\n", `duplicate period ("1m") found`},
		{"health interval", "      beta_health:\n        interval: 10sec\n", "beta_health.interval (line 6): invalid duration"},
		{"unknown key", "      foo: 1\n", "definitions.backends.api.foo (line 5): unknown key"},
		{"tls key missing", "      tls:\n        client_certificate_file: /x\n", "tls: missing client private key"},
	} {
		t.Run(c.name, func(t *testing.T) {
			wantConfigError(t, "definitions:\n  backends:\n    api:\n      origin: http://127.0.0.1:9\n"+c.yml, c.want)
		})
	}
	wantConfigError(t, "definitions:\n  backends:\n    bad-label:\n      origin: http://x\n", "label contains invalid character(s)")
	wantConfigError(t, "definitions:\n  backends:\n    anonymous_1:\n      origin: http://x\n", "must not start with 'anonymous_'")
	wantConfigError(t, "definitions:\n  backends:\n    api:\n      origin: ftp://x\n", "absolute URL with a valid hostname")
}

func TestEndpointValidation(t *testing.T) {
	base := defsAPI + "gateway:\n  address: 127.0.0.1:18999\n  endpoints:\n"
	wantConfigError(t, base+"    - path: /a/**/b\n      proxy:\n        backend: api\n", "wildcard must be the last segment")
	wantConfigError(t, base+"    - path: /a\n", "needs a proxy or a request block")
	wantConfigError(t, base+"    - path: /a\n      proxy:\n        backend:\n          origin: http://127.0.0.1:9\n          throttle:\n            period: 1s\n            per_period: 1\n",
		"anonymous backend cannot define 'throttle'")
	wantConfigError(t, defsAPI+"gateway:\n  endpoints:\n    - path: /a\n      proxy:\n        backend: api\n", "gateway.address")
}

func TestTemplateErrorsNameKeyAndLine(t *testing.T) {
	cfg := parseConfig(t, defsAPI+"      set_request_headers:\n        X-A: ${request.nope}\n")
	_, err := New(Options{Config: cfg})
	var errs config.Errors
	if !errors.As(err, &errs) || len(errs) != 1 {
		t.Fatalf("err = %v", err)
	}
	if got := errs[0].Error(); !strings.Contains(got, "definitions.backends.api.set_request_headers.X-A (line 7): unknown placeholder ${request.nope}") {
		t.Fatalf("err = %q", got)
	}
	cfg = parseConfig(t, defsAPI+"      hostname: ${env.BACKLINE_TEST_UNSET_VAR}\n")
	if _, err = New(Options{Config: cfg, Env: func(string) (string, bool) { return "", false }}); err == nil ||
		!strings.Contains(err.Error(), "environment variable BACKLINE_TEST_UNSET_VAR is not set") {
		t.Fatalf("err = %v", err)
	}
}

func TestDefaultsAndHealthGroups(t *testing.T) {
	cfg := parseConfig(t, `definitions:
  backends:
    web:
      origin: https://127.0.0.1:8443/base?x=1
      beta_health:
        expected_text: ok
        recovery_threshold: 3
    plain:
      origin: http://localhost
`)
	b := cfg.Definitions.Backends["plain"]
	if b.ConnectTimeout.String() != "10s" || b.TTFBTimeout.String() != "1m0s" || b.Timeout.String() != "5m0s" {
		t.Fatalf("defaults = %s %s %s", b.ConnectTimeout, b.TTFBTimeout, b.Timeout)
	}
	gw, err := New(Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	groups := gw.HealthGroups()
	if len(groups) != 1 {
		t.Fatalf("groups = %+v", groups)
	}
	g := groups[0]
	tg := g.Targets[0]
	if g.Name != "gateway:web" || g.ConnectInterval.String() != "1s" || g.FailureThreshold != 2 || g.RecoveryThreshold != 3 || !g.InitialHealthy ||
		g.FastInterval != 0 {
		t.Fatalf("group = %+v", g)
	}
	if tg.Host != "127.0.0.1" || tg.Port != 8443 || tg.TLSMode != "implicit" || !tg.DeepCheck || tg.HTTP == nil ||
		tg.HTTP.Path != "/base?x=1" || !tg.HTTP.HTTPS || tg.HTTP.Text != "ok" || len(tg.HTTP.Statuses) != 3 || tg.TLSConfig == nil {
		t.Fatalf("target = %+v http %+v", tg, tg.HTTP)
	}
}

// beta_health's fast_interval and down_interval reach the health group of
// a one-origin backend and of one with several origins.
func TestHealthGroupsFastInterval(t *testing.T) {
	cfg := parseConfig(t, `definitions:
  backends:
    one:
      origin: http://127.0.0.1:8081
      beta_health: {interval: 10s, fast_interval: 2s, down_interval: 1m}
    many:
      origins: [http://127.0.0.1:8082, http://127.0.0.1:8083]
      beta_health: {interval: 30s, fast_interval: 3s, down_interval: 2m}
`)
	gw, err := New(Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	got, down := map[string]time.Duration{}, map[string]time.Duration{}
	for _, g := range gw.HealthGroups() {
		got[g.Name], down[g.Name] = g.FastInterval, g.DownInterval
	}
	if got["gateway:one"] != 2*time.Second || got["gateway:many"] != 3*time.Second {
		t.Fatalf("fast intervals %v", got)
	}
	if down["gateway:one"] != time.Minute || down["gateway:many"] != 2*time.Minute {
		t.Fatalf("down intervals %v", down)
	}
}

// An error in a definition is reported once, where it is written, not again
// for every refinement that inherits the attribute; a refinement's own bad
// value is reported at its own key.
func TestRefinementDoesNotRepeatTheDefinitionsErrors(t *testing.T) {
	cfg := parseConfig(t, `definitions:
  backends:
    api:
      origin: http://127.0.0.1:9
      basic_auth: u:${env.BACKLINE_TEST_UNSET_VAR}
gateway:
  address: 127.0.0.1:18999
  endpoints:
    - path: /a
      proxy:
        backend:
          label: api
          path: /x
    - path: /b
      proxy:
        backend:
          label: api
          hostname: ${request.nope}
`)
	_, err := New(Options{Config: cfg, Env: func(string) (string, bool) { return "", false }})
	var errs config.Errors
	if !errors.As(err, &errs) || len(errs) != 2 {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(errs[0].Error(), "definitions.backends.api.basic_auth") ||
		!strings.Contains(errs[1].Error(), "gateway.endpoints[1].proxy.backend.hostname") {
		t.Fatalf("err = %v", err)
	}
}
