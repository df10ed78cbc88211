package migrate

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/backline/backline/internal/config"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// secretValues appear in the test files' environment; none may show up in
// the report.
var testEnv = map[string]string{
	"NAUTHILUS_API_PASSWORD":         "api-pass-0123456789",
	"NAUTHILUS_PASSWORD_NONCE":       "nonce-0123456789",
	"REDIS_PASSWORD":                 "redis-pass-0123456789",
	"IMAP_HEALTHCHECK_PASSWORD":      "imap-pass-0123456789",
	"HEALTHCHECK_PASSWORD":           "hc-pass-0123456789",
	"NAUTHILUS_BACKCHANNEL_PASSWORD": "backchannel-pass-0123456789",
}

func convertFile(t *testing.T, name string) *Result {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Nauthilus(data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return r
}

func notesText(r *Result) string {
	var b strings.Builder
	for _, n := range r.Notes {
		b.WriteString(n.String() + "\n")
	}
	return b.String()
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs (-want +got):\n%s", name, diff)
	}
}

// The converted files match their golden copies, and so do the reports.
func TestNauthilusGolden(t *testing.T) {
	for _, base := range []string{"nauthilus-1x", "nauthilus-3x"} {
		t.Run(base, func(t *testing.T) {
			r := convertFile(t, base+".yml")
			golden(t, base+".out.yml", string(r.YAML))
			golden(t, base+".notes.txt", notesText(r))
		})
	}
}

// What the converter writes is what backline check accepts: strictly for
// the 1.x file once its variables are set, and with --no-secrets for the
// 3.x file, whose Redis password file exists only in production.
func TestNauthilusOutputPassesCheck(t *testing.T) {
	for k, v := range testEnv {
		t.Setenv(k, v)
	}
	r := convertFile(t, "nauthilus-1x.yml")
	if _, err := config.Parse(r.YAML); err != nil {
		t.Errorf("1.x output refused by config.Parse:\n%v\n%s", err, r.YAML)
	}

	r = convertFile(t, "nauthilus-3x.yml")
	path := filepath.Join(t.TempDir(), "backline.yml")
	if err := os.WriteFile(path, r.YAML, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.LoadWith(path, config.LoadOptions{NoSecrets: true})
	if err != nil {
		t.Fatalf("3.x output refused by check --no-secrets:\n%v\n%s", err, r.YAML)
	}
	if got := len(c.Auth.Services.BackendHealthChecks.Targets); got != 4 {
		t.Errorf("3.x output has %d targets, want 4", got)
	}
	if _, err := config.Parse(r.YAML); err == nil || !strings.Contains(err.Error(), "redis-password") {
		t.Errorf("strict check of the 3.x output should miss the production password file, got %v", err)
	}
}

// The report names every unsupported section with its line and never
// quotes a value: the test passwords are in the environment, and the
// files' literal passwords must not be copied to stderr either.
func TestNauthilusNotesNameKeysNotValues(t *testing.T) {
	for _, base := range []string{"nauthilus-1x", "nauthilus-3x"} {
		r := convertFile(t, base+".yml")
		text := notesText(r)
		for _, n := range r.Notes {
			if n.Path == "" || n.Kind != Dropped && n.Kind != Changed || n.Msg == "" {
				t.Errorf("%s: malformed note %+v", base, n)
			}
		}
		for _, secret := range []string{"${", "api-pass", "healthcheck@example.com", "nauthilus,ou=services"} {
			if strings.Contains(text, secret) {
				t.Errorf("%s: report contains %q:\n%s", base, secret, text)
			}
		}
	}
	text := notesText(convertFile(t, "nauthilus-1x.yml"))
	for _, want := range []string{"ldap (line 88): dropped", "brute_force (line 79): dropped", "realtime_blackhole_lists (line 66): dropped", "lua.actions (line 118): dropped"} {
		if !strings.Contains(text, want) {
			t.Errorf("1.x report lacks %q:\n%s", want, text)
		}
	}
	text = notesText(convertFile(t, "nauthilus-3x.yml"))
	for _, want := range []string{"identity (line 154): dropped", "auth.controls.brute_force (line 109): dropped", "auth.policy.policies (line 145): dropped"} {
		if !strings.Contains(text, want) {
			t.Errorf("3.x report lacks %q:\n%s", want, text)
		}
	}
}

// Small cases, each for one rule.
func TestNauthilusRules(t *testing.T) {
	cases := []struct {
		name, in       string
		out, notes     []string // substrings
		notOut         []string
		wantErrContain string
	}{
		{name: "empty file", in: "", out: []string{"{}"}},
		{name: "1.x feature enables the service",
			in:  "server:\n  features: [backend_server_monitoring]\nbackend_server_monitoring:\n  backend_servers:\n    - {protocol: imap, host: 10.0.0.1, port: 993, tls: true}\n",
			out: []string{"enabled:\n      - backend_health_checks", "connect_interval: 20s", "host: 10.0.0.1"}},
		{name: "1.x targets without the feature stay unprobed",
			in:     "backend_server_monitoring:\n  backend_servers:\n    - {protocol: imap, host: 10.0.0.1, port: 143}\n",
			notOut: []string{"enabled:"}, notes: []string{"backend_server_monitoring.backend_servers (line 2): changed: the health-check service is not enabled"}},
		{name: "3.x 1.x service name",
			in:    "auth:\n  services:\n    enabled: [backend_server_monitoring]\n",
			out:   []string{"- backend_health_checks"},
			notes: []string{"auth.services.enabled[0] (line 3): changed: the 1.x name"}},
		{name: "1.x server.tls carries over",
			in:  "server:\n  tls:\n    enabled: true\n    cert: /etc/nauthilus/cert.pem\n    key: /etc/nauthilus/key.pem\n    min_tls_version: TLS1.3\n    cipher_suites: [x]\n    http_client_skip_verify: true\n",
			out: []string{"tls:\n    cert_file: /etc/nauthilus/cert.pem\n    key_file: /etc/nauthilus/key.pem\n    min_version: \"1.3\""},
			notes: []string{"server.tls.cipher_suites (line 7): dropped: backline uses Go's default cipher suites",
				"server.tls.http_client_skip_verify (line 8): dropped"}},
		{name: "3.x tls with an old minimum version",
			in:    "runtime:\n  servers:\n    http:\n      tls: {enabled: true, cert: c.pem, key: k.pem, min_tls_version: TLS1.0}\n",
			out:   []string{"cert_file: c.pem", "min_version: \"1.2\""},
			notes: []string{"runtime.servers.http.tls.min_tls_version (line 4): changed: backline offers TLS 1.2 at least"}},
		{name: "tls not enabled is left out",
			in:     "server:\n  tls:\n    enabled: false\n    cert: c.pem\n",
			notOut: []string{"cert_file"}, notes: []string{"server.tls (line 2): dropped: TLS is not enabled"}},
		{name: "log level none",
			in:  "server:\n  log:\n    level: none\n",
			out: []string{"log_level: error"}, notes: []string{"server.log.level (line 3): changed"}},
		{name: "redis without address gets Nauthilus's default",
			in:  "server:\n  redis:\n    database_number: 3\n",
			out: []string{"address: 127.0.0.1:6379"}},
		{name: "redis without prefix: Nauthilus's default for scripts",
			in:  "storage:\n  redis:\n    primary: {address: 10.0.0.1:6379}\n",
			out: []string{"redis_prefix: \"\"", "address: 10.0.0.1:6379"}, notOut: []string{"prefix: backline"},
			notes: []string{`storage.redis.prefix (line 3): changed: not set: lua.config.redis_prefix written as "" (Nauthilus's default)`}},
		{name: "1.x prefix moves to lua.config",
			in:  "server:\n  redis:\n    prefix: nt_\n",
			out: []string{"lua:\n  config:\n    redis_prefix: nt_"}, notOut: []string{"    prefix: nt_"},
			notes: []string{"server.redis.prefix (line 3): changed: moved to lua.config.redis_prefix"}},
		{name: "empty prefix is kept empty",
			in:  "storage:\n  redis:\n    prefix:\n",
			out: []string{"redis_prefix: \"\""}, notes: []string{"storage.redis.prefix (line 3): changed: moved"}},
		{name: "prefix too long",
			in:     "storage:\n  redis:\n    prefix: " + strings.Repeat("p", config.MaxRedisPrefixLen+1) + "\n",
			notOut: []string{"redis_prefix"}, notes: []string{"storage.redis.prefix (line 3): dropped: longer than 64 bytes"}},
		{name: "prefix not a string",
			in:     "storage:\n  redis:\n    prefix: [a]\n",
			notOut: []string{"redis_prefix"}, notes: []string{"storage.redis.prefix (line 3): dropped: must be a string"}},
		{name: "cluster wins over master",
			in:     "storage:\n  redis:\n    primary: {address: 10.0.0.1:6379}\n    cluster:\n      addresses: [10.0.0.2:6379, 10.0.0.3:6379]\n",
			out:    []string{"cluster:", "10.0.0.2:6379"},
			notOut: []string{"10.0.0.1:6379"}, notes: []string{"storage.redis.primary.address (line 3): dropped"}},
		{name: "no redis section",
			in:    "server:\n  address: 127.0.0.1:9080\n",
			notes: []string{"storage.redis: changed: Nauthilus always uses Redis"}},
		{name: "disabled basic auth",
			in:     "server:\n  basic_auth: {enabled: false, username: a, password: b}\n",
			notOut: []string{"api_auth"}, notes: []string{"server.basic_auth (line 2): dropped"}},
		{name: "lua backend without script",
			in:    "server:\n  backends: [lua]\n",
			notes: []string{"server.backends[0] (line 2): dropped: the Lua backend has no script_path"}},
		{name: "anchors and merge keys are expanded",
			in:     "x-t: &t {protocol: imap, port: 993, tls: true}\nauth:\n  services:\n    backend_health_checks:\n      targets:\n        - <<: *t\n          host: a.example.org\n",
			out:    []string{"protocol: imap", "host: a.example.org", "port: 993"},
			notOut: []string{"&t", "*t", "<<"}},
		{name: "not a mapping", in: "- a\n- b\n", wantErrContain: "not a list"},
		{name: "not YAML", in: "server: [\n", wantErrContain: "yaml syntax"},
		{name: "3.0 runtime.listen",
			in:  "runtime:\n  listen:\n    address: 127.0.0.1:9090\n",
			out: []string{"address: 127.0.0.1:9090"}},
		{name: "1.x and 3.x address both: the first wins",
			in:    "server:\n  address: 127.0.0.1:1\nruntime:\n  servers:\n    http:\n      address: 127.0.0.1:2\n",
			out:   []string{"address: 127.0.0.1:1"},
			notes: []string{"runtime.servers.http.address (line 6): dropped: server.address was already set from server.address"}},
		{name: "1.x filter flags are copied literally when one is true",
			in:     "lua:\n  filters:\n    - {name: f, script_path: /f.lua, when_no_auth: true}\n",
			out:    []string{"when_no_auth: true"},
			notOut: []string{"when_authenticated"}},
		{name: "3.x filter scheduled for lookup_identity only",
			in:  "auth:\n  controls:\n    lua:\n      filters: [{name: f, script_path: /f.lua}]\n  policy:\n    checks:\n      - {name: c, type: lua.filter, operations: [lookup_identity], config_ref: auth.controls.lua.filters.f}\n",
			out: []string{"when_authenticated: false", "when_unauthenticated: false", "when_no_auth: true"}},
		{name: "3.x check for a missing filter",
			in:    "auth:\n  policy:\n    checks:\n      - {name: c, type: lua.filter, config_ref: auth.controls.lua.filters.gone}\n",
			notes: []string{"auth.policy.checks[0] (line 4): dropped: refers to no Lua filter"}},
		{name: "unknown top-level key", in: "frobnicate: 1\n", notes: []string{"frobnicate (line 1): dropped: no equivalent in backline"}},
		{name: "section of the wrong kind", in: "server: 3\nlua: [1]\n",
			notes: []string{"server (line 1): dropped: must be a mapping", "lua (line 2): dropped: must be a mapping"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Nauthilus([]byte(tc.in))
			if tc.wantErrContain != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErrContain) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErrContain)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			out, notes := string(r.YAML), notesText(r)
			for _, s := range tc.out {
				if !strings.Contains(out, s) {
					t.Errorf("output lacks %q:\n%s", s, out)
				}
			}
			for _, s := range tc.notOut {
				if strings.Contains(out, s) {
					t.Errorf("output contains %q:\n%s", s, out)
				}
			}
			for _, s := range tc.notes {
				if !strings.Contains(notes, s) {
					t.Errorf("notes lack %q:\n%s", s, notes)
				}
			}
		})
	}
}
