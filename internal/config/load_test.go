package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseEmptyFileIsIdleConfig(t *testing.T) {
	for name, yml := range map[string]string{
		"empty":         "",
		"comments only": "# nothing here\n",
		"null document": "~\n",
		"empty mapping": "{}\n",
	} {
		t.Run(name, func(t *testing.T) {
			c := mustParse(t, yml)
			if c.ServiceEnabled(ServiceBackendHealthChecks) {
				t.Error("health checks enabled in an empty file")
			}
			if n := len(c.Auth.Services.BackendHealthChecks.Targets); n != 0 {
				t.Errorf("%d targets, want none", n)
			}
			if c.Server.Address != DefaultServerAddress {
				t.Errorf("server.address = %q, want %q", c.Server.Address, DefaultServerAddress)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	c := mustParse(t, withTargets("- protocol: imap\n  host: 127.0.0.1\n  port: 143\n"))
	if diff := cmp.Diff(Server{Address: "127.0.0.1:9080", LogLevel: "info", LogFormat: "text"}, c.Server); diff != "" {
		t.Errorf("server defaults (-want +got):\n%s", diff)
	}
	h := c.Auth.Services.BackendHealthChecks
	want := HealthChecks{
		ConnectTimeout:    5 * time.Second,
		TLSTimeout:        5 * time.Second,
		DeepTimeout:       5 * time.Second,
		ConnectInterval:   10 * time.Second,
		DeepInterval:      10 * time.Second,
		FailureThreshold:  1,
		RecoveryThreshold: 1,
		InitialState:      InitialHealthy,
		Jitter:            time.Second,
		ConnectCheck:      ConnectCheckGreeting,
		Targets: []Target{{
			Name:           "imap://127.0.0.1:143",
			Protocol:       "imap",
			Host:           "127.0.0.1",
			Port:           143,
			AuthMechanism:  MechAuto,
			TLSMode:        TLSPlain,
			ConnectCheck:   ConnectCheckGreeting,
			ConnectTimeout: 5 * time.Second,
			TLSTimeout:     5 * time.Second,
			DeepTimeout:    5 * time.Second,
		}},
	}
	if diff := cmp.Diff(want, h); diff != "" {
		t.Errorf("health-check defaults (-want +got):\n%s", diff)
	}
}

func TestDerivedDefaults(t *testing.T) {
	tests := []struct {
		name                 string
		globals              string
		wantDeep, wantJitter time.Duration
	}{
		{"deep_interval follows connect_interval", "connect_interval: 30s", 30 * time.Second, time.Second},
		{"jitter is 10% of a short interval", "connect_interval: 2s", 2 * time.Second, 200 * time.Millisecond},
		{"jitter is capped at 1s", "connect_interval: 1h", time.Hour, time.Second},
		{"explicit deep_interval kept", "connect_interval: 5s\ndeep_interval: 1m", time.Minute, 500 * time.Millisecond},
		{"explicit jitter 0 disables it", "jitter: 0", 10 * time.Second, 0},
		{"explicit jitter kept", "jitter: 250ms", 10 * time.Second, 250 * time.Millisecond},
		{"empty key keeps the default", "jitter:\ndeep_interval:", 10 * time.Second, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := mustParse(t, withGlobals(tt.globals)).Auth.Services.BackendHealthChecks
			if h.DeepInterval != tt.wantDeep || h.Jitter != tt.wantJitter {
				t.Errorf("deep_interval, jitter = %s, %s; want %s, %s", h.DeepInterval, h.Jitter, tt.wantDeep, tt.wantJitter)
			}
		})
	}
}

func TestGlobalLimits(t *testing.T) {
	const p = "auth.services.backend_health_checks."
	tests := []struct {
		globals string
		want    string // "" means valid
	}{
		{"connect_timeout: 1m", ""},
		{"connect_timeout: 61s", p + "connect_timeout (line 5): must be at most 1m, got 1m1s"},
		{"connect_timeout: 0s", p + "connect_timeout (line 5): must be greater than 0 (leave the key out for the default)"},
		{"tls_timeout: 1m", ""},
		{"tls_timeout: 2m", p + "tls_timeout (line 5): must be at most 1m, got 2m0s"},
		{"tls_timeout: 0", p + "tls_timeout (line 5): must be greater than 0 (leave the key out for the default)"},
		{"deep_timeout: 5m", ""},
		{"deep_timeout: 301", p + "deep_timeout (line 5): must be at most 5m, got 5m1s"},
		{"connect_interval: 24h", ""},
		{"connect_interval: 25h", p + "connect_interval (line 5): must be at most 24h, got 25h0m0s"},
		{"deep_interval: 24h", ""},
		{"deep_interval: 86401", p + "deep_interval (line 5): must be at most 24h, got 24h0m1s"},
		{"deep_interval: 0s", p + "deep_interval (line 5): must be greater than 0 (leave the key out for the default)"},
		{"failure_threshold: 100", ""},
		{"failure_threshold: 101", p + "failure_threshold (line 5): must be 1..100, got 101"},
		{"failure_threshold: 0", p + "failure_threshold (line 5): must be 1..100, got 0"},
		{"recovery_threshold: 1", ""},
		{"recovery_threshold: -1", p + "recovery_threshold (line 5): must be 1..100, got -1"},
		{"initial_state: Unhealthy", ""},
		{"initial_state: unknown", p + "initial_state (line 5): must be healthy or unhealthy, got \"unknown\""},
		{"jitter: 9.999s", ""},
		{"jitter: 10s", p + "jitter (line 5): must be less than connect_interval (10s), got 10s"},
		{"auth_mechanism: PLAIN", p + "auth_mechanism (line 5): unknown key (known keys: connect_check, connect_interval, connect_timeout, deep_interval, deep_timeout, down_interval, failure_threshold, fast_interval, helo_name, initial_state, jitter, recovery_threshold, targets, tls_timeout)"},
	}
	for _, tt := range tests {
		t.Run(tt.globals, func(t *testing.T) {
			yml := withGlobals(tt.globals)
			if tt.want == "" {
				mustParse(t, yml)
				return
			}
			wantOnlyError(t, yml, tt.want)
		})
	}
}

func TestInitialStateNormalised(t *testing.T) {
	h := mustParse(t, withGlobals("initial_state: ' UNHEALTHY '")).Auth.Services.BackendHealthChecks
	if h.InitialState != InitialUnhealthy {
		t.Errorf("initial_state = %q, want unhealthy", h.InitialState)
	}
}

func TestServerSection(t *testing.T) {
	tests := []struct {
		server string
		want   string
	}{
		{"address: '[::1]:9080'", ""},
		{"address: ':9080'", ""},
		{"address: 'localhost.:1'", ""},
		{"address: 127.0.0.1", `server.address (line 2): must be host:port (for example 127.0.0.1:9080), got "127.0.0.1"`},
		{"address: '127.0.0.1:0'", `server.address (line 2): port must be 1..65535, got "0"`},
		{"address: 'bad_host:80'", `server.address (line 2): host is not a valid hostname (character '_' is not allowed): "bad_host"`},
		{"log_level: DEBUG", ""},
		{"log_level: trace", `server.log_level (line 2): must be one of debug, info, warn, error, got "trace"`},
		{"log_format: JSON", ""},
		{"log_format: logfmt", `server.log_format (line 2): must be one of text, json, got "logfmt"`},
		{"api_auth: {username: ops}", `server.api_auth.username (line 2): needs password or password_file`},
		{"api_auth: {password: s3cret}", `server.api_auth.username (line 2): is required when a password is set`},
		{"api_auth: {username: 'a:b', password: x}", `server.api_auth.username (line 2): must not contain ':' (HTTP Basic separates user and password with it)`},
		{"api_auth: {bearer_token: abc}", ""},
		{"listen: x", "server.listen (line 2): unknown key (known keys: address, api_auth, log_file, log_format, log_level, max_connections, pprof, shutdown_delay, state_file, tls)"},
	}
	for _, tt := range tests {
		t.Run(tt.server, func(t *testing.T) {
			yml := "server:\n  " + tt.server + "\n"
			if tt.want == "" {
				mustParse(t, yml)
				return
			}
			wantOnlyError(t, yml, tt.want)
		})
	}
}

func TestServerNormalised(t *testing.T) {
	s := mustParse(t, "server:\n  log_level: ' Warn'\n  log_format: JSON\n").Server
	if s.LogLevel != "warn" || s.LogFormat != "json" {
		t.Errorf("log_level, log_format = %q, %q; want warn, json", s.LogLevel, s.LogFormat)
	}
}

func TestAPIAuthSecretFiles(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	tok := filepath.Join(dir, "tok")
	writeFile(t, pw, "api-secret-77\n")
	writeFile(t, tok, "token-88\r\n")
	c := mustParse(t, "server:\n  api_auth:\n    username: ops\n    password_file: "+pw+"\n    bearer_token_file: "+tok+"\n")
	if c.Server.APIAuth.Password != "api-secret-77" || c.Server.APIAuth.BearerToken != "token-88" {
		t.Errorf("secrets not loaded from files: %+v", c.Server.APIAuth)
	}

	got := parseErrors(t, "server:\n  api_auth:\n    username: ops\n    password: api-secret-77\n    password_file: "+pw+"\n")
	want := []string{"server.api_auth.password_file (line 5): set either password or password_file, not both"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestServices(t *testing.T) {
	wantOnlyError(t, "auth:\n  services:\n    enabled:\n      - backend_health_checks\n      - brute_force\n",
		`auth.services.enabled[1] (line 5): unknown service "brute_force" (known: backend_health_checks)`)
	wantOnlyError(t, "auth:\n  services:\n    enabled: [backend_server_monitoring]\n",
		"auth.services.enabled[0] (line 3): backend_server_monitoring is the Nauthilus 1.x name; use backend_health_checks; "+MigrateHint)
	wantOnlyError(t, "auth:\n  controls:\n    enabled: [backend_health_checks]\n",
		"auth.controls (line 2): unknown key (known keys: cache, nginx, passdb, request, services); "+NauthilusHint)
	c := mustParse(t, "auth:\n  services:\n    enabled: [' backend_health_checks ']\n")
	if !c.ServiceEnabled(ServiceBackendHealthChecks) {
		t.Error("a padded service name is not recognised")
	}
}

func TestDisabledServiceStillValidated(t *testing.T) {
	yml := "auth:\n  services:\n    backend_health_checks:\n      targets:\n        - protocol: imap\n          host: ::1\n          port: 0\n"
	wantOnlyError(t, yml, "auth.services.backend_health_checks.targets[0].port (line 7): must be 1..65535, got 0")
}

func TestErrorsSortedByLineAndAllReported(t *testing.T) {
	yml := withTargets(`- protocol: gopher
  host: "bad host"
  port: 70000
  tls_mode: quic
  deep_chek: true
- protocol: imap
  host: 127.0.0.1
  port: 143
  name: "imap://127.0.0.1:143"
- protocol: imap
  host: 127.0.0.1
  port: 143
`)
	yml = strings.Replace(yml, "    backend_health_checks:\n", "    backend_health_checks:\n      failure_threshold: 0\n", 1)
	const p = "auth.services.backend_health_checks."
	want := []string{
		p + "failure_threshold (line 5): must be 1..100, got 0",
		p + `targets[0].protocol (line 7): unknown protocol "gopher" (use one of imap, pop3, lmtp, smtp, sieve, http, tcp)`,
		p + `targets[0].host (line 8): is not a valid hostname (character ' ' is not allowed): "bad host"`,
		p + "targets[0].port (line 9): must be 1..65535, got 70000",
		p + `targets[0].tls_mode (line 10): must be plain, implicit or starttls, got "quic"`,
		p + "targets[0].deep_chek (line 11): unknown key (known keys: agent, allow_plaintext_auth, auth_mechanism, backup, connect_check, connect_timeout, deep_check, deep_timeout, drain_on_status, expected_status, expected_text, haproxy_v2, haproxy_v2_command, headers, helo_name, host, name, port, protocol, proxy_port, request_body, request_method, request_uri, tcp_steps, test_password, test_password_file, test_username, tls, tls_ca_file, tls_cert_file, tls_key_file, tls_mode, tls_server_name, tls_skip_verify, tls_timeout, weight)",
		p + `targets[2].name (line 16): name "imap://127.0.0.1:143" is already used by targets[1]; give each target a distinct name`,
	}
	if diff := cmp.Diff(want, parseErrors(t, yml)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestDecodeErrorHidesFollowUpError(t *testing.T) {
	wantOnlyError(t, withTargets("- protocol: imap\n  host: ::1\n  port: imaps\n"),
		`auth.services.backend_health_checks.targets[0].port (line 8): must be a whole number, got "imaps"`)
}

func TestYAMLSyntaxAndDocuments(t *testing.T) {
	// The parser finds the missing content at the end of the file, line 3
	// (yaml.v3 says "line 2": its parser counts lines from 0).
	wantOnlyError(t, "server:\n  address: [\n", "(yaml syntax) (line 3): did not find expected node content")
	wantOnlyError(t, "server: {}\n---\nserver: {}\n", "(file) (line 2): only one YAML document is allowed; remove the second '---'")
	wantOnlyError(t, "- a\n", "(root) (line 1): must be a mapping")
}

func TestLinesKept(t *testing.T) {
	c := mustParse(t, withTargets("- protocol: imap\n  host: ::1\n  port: 143\n"))
	if got := c.Lines.Line("auth.services.backend_health_checks.targets[0].port"); got != 8 {
		t.Errorf("line of port = %d, want 8", got)
	}
}

func TestLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "backline.yml")
	writeFile(t, path, "server:\n  log_level: debug\n")
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.LogLevel != "debug" {
		t.Errorf("log_level = %q", c.Server.LogLevel)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yml")); err == nil || !strings.Contains(err.Error(), "missing.yml") {
		t.Errorf("Load of a missing file: %v, want an error naming the file", err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
