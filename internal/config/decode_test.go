package config

import (
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{"1.5s", 1500 * time.Millisecond, ""},
		{"250ms", 250 * time.Millisecond, ""},
		{"1m30s", 90 * time.Second, ""},
		{"2", 2 * time.Second, ""},
		{"0.25", 250 * time.Millisecond, ""},
		{" 3s ", 3 * time.Second, ""},
		{"0", 0, ""},
		{"-1s", 0, `duration "-1s" must not be negative`},
		{"-3", 0, `duration "-3" must not be negative`},
		{"5 parsecs", 0, `invalid duration "5 parsecs" (use units such as 500ms, 5s, 2m, 1h)`},
		{"10", 10 * time.Second, ""},
		{"", 0, "empty duration"},
		{"NaN", 0, `invalid duration "NaN" (use units such as 500ms, 5s, 2m, 1h)`},
		{"Inf", 0, `invalid duration "Inf" (use units such as 500ms, 5s, 2m, 1h)`},
		{"-Inf", 0, `invalid duration "-Inf" (use units such as 500ms, 5s, 2m, 1h)`},
		{"1e300", 0, `duration "1e300" is too large`},
		{"1e400", 0, `duration "1e400" is too large`},
		{"9223372037", 0, `duration "9223372037" is too large`},
		{"9223372036", 9223372036 * time.Second, ""},
		{"100000000h", 0, `invalid duration "100000000h" (use units such as 500ms, 5s, 2m, 1h)`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDuration(tt.in)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Errorf("ParseDuration(%q) error = %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ParseDuration(%q) = %s, %v; want %s", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestDecodeDurationsInFile(t *testing.T) {
	h := mustParse(t, withGlobals("connect_timeout: 1.5s\ntls_timeout: 2\ndeep_timeout: 90")).Auth.Services.BackendHealthChecks
	if h.ConnectTimeout != 1500*time.Millisecond || h.TLSTimeout != 2*time.Second || h.DeepTimeout != 90*time.Second {
		t.Errorf("timeouts = %s %s %s", h.ConnectTimeout, h.TLSTimeout, h.DeepTimeout)
	}
	wantOnlyError(t, withGlobals("connect_timeout: -2s"),
		`auth.services.backend_health_checks.connect_timeout (line 5): duration "-2s" must not be negative`)
	wantOnlyError(t, withGlobals("connect_interval: soon"),
		`auth.services.backend_health_checks.connect_interval (line 5): invalid duration "soon" (use units such as 500ms, 5s, 2m, 1h)`)
	wantOnlyError(t, withGlobals("deep_timeout: [1s]"),
		"auth.services.backend_health_checks.deep_timeout (line 5): must be a single value, not a list")
}

func TestDecodeTypeErrors(t *testing.T) {
	tests := []struct{ name, yml, want string }{
		{"list expected", "auth:\n  services:\n    enabled: backend_health_checks\n",
			"auth.services.enabled (line 3): must be a list"},
		{"mapping expected", "server:\n  - address\n",
			"server (line 2): must be a mapping"},
		{"scalar expected", "server:\n  address: {host: x}\n",
			"server.address (line 2): must be a single value, not a mapping"},
		{"whole number", withGlobals("failure_threshold: 1.5"),
			`auth.services.backend_health_checks.failure_threshold (line 5): must be a whole number, got "1.5"`},
		{"bool", imapTarget("tls: maybe"),
			tp + `tls (line 9): must be true or false, got "maybe"`},
		{"key twice", "server:\n  log_level: info\n  log_level: debug\n",
			"server.log_level (line 3): key given twice"},
		{"unknown top-level", "serverr:\n  address: x\n",
			"serverr (line 1): unknown key (known keys: auth, definitions, gateway, lua, server, storage)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantOnlyError(t, tt.yml, tt.want) })
	}
}

func TestDecodeBoolSpellings(t *testing.T) {
	for _, v := range []string{"true", "True", "TRUE", "1", "t"} {
		if !firstTarget(t, imapTarget("tls: "+v)).TLS {
			t.Errorf("tls: %s decoded as false", v)
		}
	}
}

func TestDecodeAliases(t *testing.T) {
	yml := withGlobals(`targets:
  - &base
    protocol: imap
    host: ::1
    port: 143
  - *base
`)
	got := parseErrors(t, yml)
	want := `auth.services.backend_health_checks.targets[1].name (line 6): name "imap://[::1]:143" is already used by targets[0]; give each target a distinct name`
	if len(got) != 1 || got[0] != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestEnvExpansion(t *testing.T) {
	t.Setenv("BACKLINE_TEST_IMAP_HOST", "imap.example.org")
	t.Setenv("BACKLINE_TEST_DOMAIN", "example.org")
	tg := firstTarget(t, withTargets(`- protocol: imap
  host: "${BACKLINE_TEST_IMAP_HOST}"
  port: 993
  name: "imap-${BACKLINE_TEST_DOMAIN}-$HOME"
`))
	if tg.Host != "imap.example.org" {
		t.Errorf("host = %q", tg.Host)
	}
	if tg.Name != "imap-example.org-$HOME" {
		t.Errorf("name = %q (only ${NAME} is expanded)", tg.Name)
	}

	wantOnlyError(t, withTargets("- protocol: imap\n  host: ${BACKLINE_TEST_SURELY_UNSET}\n  port: 993\n"),
		tp+"host (line 7): environment variable BACKLINE_TEST_SURELY_UNSET is not set")
	// The unset password variable is the only error, not also "username needs a password".
	wantOnlyError(t, imapTarget("tls: true\ntest_username: u\ntest_password: ${BACKLINE_TEST_SURELY_UNSET}"),
		tp+"test_password (line 11): environment variable BACKLINE_TEST_SURELY_UNSET is not set")
}

func TestEnvExpansionCustomLookup(t *testing.T) {
	var root yaml.Node
	if err := yaml.Unmarshal([]byte("address: ${A}:${B}\n"), &root); err != nil {
		t.Fatal(err)
	}
	d := NewDecoder()
	d.Env = func(name string) (string, bool) {
		v, ok := map[string]string{"A": "127.0.0.1"}[name]
		return v, ok
	}
	var s Server
	d.Decode(&root, &s, "server")
	if got := d.Errs.Error(); got != "server.address (line 1): environment variable B is not set" {
		t.Errorf("errors = %q", got)
	}
	if s.Address != "" {
		t.Errorf("address set despite the error: %q", s.Address)
	}
}

func TestRateLimitAndItsAliasTogetherIsAnError(t *testing.T) {
	_, err := Parse([]byte(`definitions:
  backends:
    api:
      origin: http://127.0.0.1:1
      beta_rate_limit:
        - period: 1s
          per_period: 1
      throttle:
        - period: 1m
          per_period: 5
`))
	if err == nil || !strings.Contains(err.Error(), "definitions.backends.api.throttle") ||
		!strings.Contains(err.Error(), "name the same setting") {
		t.Fatalf("err = %v", err)
	}
}

func TestDollarEscapeOutsideGatewayIsLiteral(t *testing.T) {
	d := NewDecoder()
	d.Env = func(string) (string, bool) { return "expanded", true }
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(`v: "$${NAME} ${NAME}"`), &n); err != nil {
		t.Fatal(err)
	}
	var out struct {
		V string `yaml:"v"`
	}
	d.Decode(n.Content[0], &out, "")
	if out.V != "${NAME} expanded" {
		t.Fatalf("v = %q", out.V)
	}
}
