package config

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

const tp = "auth.services.backend_health_checks.targets[0]."

// imapTarget is a valid target; extra lines start at line 9.
func imapTarget(extra string) string {
	return withTargets("- protocol: imap\n  host: 127.0.0.1\n  port: 993\n" + indent(extra, 2))
}

// target builds a target from protocol, host and port plus extra lines
// (line 9 onwards).
func target(protocol, host string, port int, extra string) string {
	return withTargets(fmt.Sprintf("- protocol: %s\n  host: %q\n  port: %d\n", protocol, host, port) + indent(extra, 2))
}

func firstTarget(t *testing.T, yml string) Target {
	t.Helper()
	return mustParse(t, yml).Auth.Services.BackendHealthChecks.Targets[0]
}

func TestTargetErrors(t *testing.T) {
	tests := []struct {
		name string
		yml  string
		want string
	}{
		{"protocol required", withTargets("- host: ::1\n  port: 1\n"),
			tp + "protocol (line 6): is required (one of imap, pop3, lmtp, smtp, sieve, http, tcp)"},
		{"protocol unknown", target("nntp", "::1", 119, ""),
			tp + `protocol (line 6): unknown protocol "nntp" (use one of imap, pop3, lmtp, smtp, sieve, http, tcp)`},
		{"host required", withTargets("- protocol: imap\n  port: 143\n"),
			tp + "host (line 6): is required"},
		{"host underscore", target("imap", "mail_1.example.org", 143, ""),
			tp + `host (line 7): is not a valid hostname (character '_' is not allowed): "mail_1.example.org"`},
		{"host leading hyphen", target("imap", "-mail.example.org", 143, ""),
			tp + `host (line 7): is not a valid hostname (label starts or ends with '-'): "-mail.example.org"`},
		{"host empty label", target("imap", "mail..example.org", 143, ""),
			tp + `host (line 7): is not a valid hostname (empty label): "mail..example.org"`},
		{"host two trailing dots", target("imap", "mail.example.org..", 143, ""),
			tp + `host (line 7): is not a valid hostname (empty label): "mail.example.org.."`},
		{"host long label", target("imap", strings.Repeat("a", 64)+".org", 143, ""),
			tp + `host (line 7): is not a valid hostname (label longer than 63 characters): "` + strings.Repeat("a", 64) + `.org"`},
		{"host too long", target("imap", strings.Repeat("a.", 127)+"ab", 143, ""),
			tp + `host (line 7): must be a valid hostname of 1..253 characters, got "` + strings.Repeat("a.", 127) + `ab"`},
		{"host bad IPv4", target("imap", "192.0.2.300", 143, ""),
			tp + `host (line 7): looks like an IPv4 address but is not a valid one: "192.0.2.300"`},
		{"host with port", target("imap", "mail.example.org:993", 993, ""),
			tp + `host (line 7): must be a host name or IP address without a port, got "mail.example.org:993" (put the port in port)`},
		{"port required", withTargets("- protocol: imap\n  host: ::1\n"),
			tp + "port (line 6): is required (1..65535)"},
		{"port zero", target("imap", "::1", 0, ""), tp + "port (line 8): must be 1..65535, got 0"},
		{"port too big", target("imap", "::1", 65536, ""), tp + "port (line 8): must be 1..65535, got 65536"},
		{"port negative", target("imap", "::1", -1, ""), tp + "port (line 8): must be 1..65535, got -1"},
		{"blank name", imapTarget("name: ' '"),
			tp + "name (line 9): must not be blank (leave it out for protocol://host:port)"},
		{"request_uri not http", imapTarget("request_uri: /health"),
			tp + "request_uri (line 9): only applies to protocol http"},
		{"request_uri no slash", target("http", "::1", 80, "request_uri: health"),
			tp + `request_uri (line 9): must start with "/", got "health"`},
		{"request_uri absolute", target("http", "::1", 80, "request_uri: http://x/health"),
			tp + `request_uri (line 9): must start with "/", got "http://x/health"`},
		{"request_uri space", target("http", "::1", 80, "request_uri: /a b"),
			tp + `request_uri (line 9): character ' ' at offset 2 must be percent-encoded: "/a b"`},
		{"request_uri bad escape", target("http", "::1", 80, "request_uri: /a%2"),
			tp + `request_uri (line 9): has an invalid percent-escape at offset 2: "/a%2"`},
		{"request_uri bad hex", target("http", "::1", 80, "request_uri: /a%zz"),
			tp + `request_uri (line 9): has an invalid percent-escape at offset 2: "/a%zz"`},
		{"request_uri fragment", target("http", "::1", 80, "request_uri: /a#b"),
			tp + `request_uri (line 9): must not contain a fragment (#): "/a#b"`},
		{"request_uri fragment with a key", target("http", "::1", 80, "request_uri: /a?api_key=SECRET1#b"),
			tp + `request_uri (line 9): must not contain a fragment (#): "/a?api_key=<redacted>#b"`},
		{"request_uri space with a token", target("http", "::1", 80, "request_uri: '/a?token=SECRET2 x'"),
			tp + `request_uri (line 9): character ' ' at offset 16 must be percent-encoded: "/a?token=<redacted>"`},
		{"username with space", imapTarget("test_username: 'health user'\ntest_password: x\ntls: true"),
			tp + "test_username (line 9): must not contain whitespace"},
		{"password with tab", imapTarget("test_username: u\ntest_password: \"a\\tb\"\ntls: true"),
			tp + "test_password (line 10): must not contain whitespace"},
		{"username without password", imapTarget("test_username: u"),
			tp + "test_username (line 9): needs test_password or test_password_file as well"},
		{"password without username", imapTarget("test_password: p"),
			tp + "test_username (line 6): is required when a test password is set"},
		{"tls true with plain", imapTarget("tls: true\ntls_mode: plain"),
			tp + "tls_mode (line 10): tls: true means implicit TLS and contradicts tls_mode plain; remove tls or set tls_mode: implicit"},
		{"tls true with starttls", imapTarget("tls: true\ntls_mode: starttls\ndeep_check: true"),
			tp + "tls_mode (line 10): tls: true means implicit TLS and contradicts tls_mode starttls; remove tls or set tls_mode: implicit"},
		{"http starttls", target("http", "::1", 80, "tls_mode: starttls\ndeep_check: true"),
			tp + "tls_mode (line 9): protocol http has no STARTTLS; use implicit or plain"},
		{"starttls without deep", imapTarget("tls_mode: starttls"),
			tp + "tls_mode (line 9): starttls runs only in the deep phase and needs deep_check: true"},
		{"sieve default without deep", target("sieve", "::1", 4190, ""),
			tp + "tls_mode (line 6): sieve defaults to starttls, which runs only in the deep phase: set deep_check: true, or tls_mode: plain for a connect-only check"},
		{"tls_mode unknown", imapTarget("tls_mode: ssl"),
			tp + `tls_mode (line 9): must be plain, implicit or starttls, got "ssl"`},
		{"tls_server_name invalid", imapTarget("tls: true\ntls_server_name: 'a b'"),
			tp + `tls_server_name (line 10): is not a valid hostname (character ' ' is not allowed): "a b"`},
		{"haproxy command unknown", imapTarget("haproxy_v2: true\nhaproxy_v2_command: send"),
			tp + `haproxy_v2_command (line 10): must be local or proxy, got "send"`},
		{"haproxy command without haproxy", imapTarget("haproxy_v2_command: proxy"),
			tp + "haproxy_v2_command (line 9): only applies with haproxy_v2: true"},
		{"connect_timeout too long", imapTarget("connect_timeout: 61s"),
			tp + "connect_timeout (line 9): must be at most 1m, got 1m1s"},
		{"tls_timeout too long", imapTarget("tls_timeout: 1h"),
			tp + "tls_timeout (line 9): must be at most 1m, got 1h0m0s"},
		{"deep_timeout too long", imapTarget("deep_timeout: 5m1s"),
			tp + "deep_timeout (line 9): must be at most 5m, got 5m1s"},
		{"deep_timeout zero", imapTarget("deep_timeout: 0"),
			tp + "deep_timeout (line 9): must be greater than 0 (leave the key out for the default)"},
		{"allow_plaintext_auth remote", target("imap", "192.0.2.1", 143, "allow_plaintext_auth: true"),
			tp + "allow_plaintext_auth (line 9): is allowed only for loopback hosts (127.0.0.0/8, ::1, localhost); credentials must not cross a network in clear text"},
		{"allow_plaintext_auth remote name", target("imap", "localhost.example.org", 143, "allow_plaintext_auth: true"),
			tp + "allow_plaintext_auth (line 9): is allowed only for loopback hosts (127.0.0.0/8, ::1, localhost); credentials must not cross a network in clear text"},
		{"credentials over plain", target("imap", "mail.example.org", 143, "deep_check: true\ntest_username: u\ntest_password: p"),
			tp + "tls_mode (line 6): credentials are only sent over TLS: a deep check with test credentials needs tls_mode implicit or starttls (allow_plaintext_auth: true is accepted for loopback hosts only)"},
		{"credentials over plain http", target("http", "::1", 80, "deep_check: true\ntest_username: u\ntest_password: p\ntls_mode: plain"),
			tp + "tls_mode (line 12): credentials are only sent over TLS: a deep check with test credentials needs tls_mode implicit or starttls (allow_plaintext_auth: true is accepted for loopback hosts only)"},
		{"proxy_port range", imapTarget("tls: true\nproxy_port: 70000"),
			tp + "proxy_port (line 10): must be 1..65535, got 70000"},
		{"proxy_port zero", imapTarget("tls: true\nproxy_port: 0"),
			tp + "proxy_port (line 10): must be 1..65535, got 0"},
		{"proxy_port on http", target("http", "::1", 443, "tls: true\nproxy_port: 80"),
			tp + "proxy_port (line 10): only applies to mail protocols (the port nginx or a Dovecot proxy connects to)"},
		{"proxy_port is the implicit port", imapTarget("tls: true\nproxy_port: 993"),
			tp + "proxy_port (line 10): is the implicit-TLS port itself; nginx cannot speak TLS to its upstream: name the plain or STARTTLS port"},
		{"misspelled key", imapTarget("tls_skipverify: true"),
			tp + "tls_skipverify (line 9): unknown key (known keys: agent, allow_plaintext_auth, auth_mechanism, backup, connect_check, connect_timeout, deep_check, deep_timeout, drain_on_status, expected_status, expected_text, haproxy_v2, haproxy_v2_command, headers, helo_name, host, name, port, protocol, proxy_port, request_body, request_method, request_uri, tcp_steps, test_password, test_password_file, test_username, tls, tls_ca_file, tls_cert_file, tls_key_file, tls_mode, tls_server_name, tls_skip_verify, tls_timeout, weight)"},
		{"target not a mapping", withTargets("- imap://127.0.0.1:143\n"),
			"auth.services.backend_health_checks.targets[0] (line 6): must be a mapping"},
		{"targets not a list", withGlobals("targets: {protocol: imap}"),
			"auth.services.backend_health_checks.targets (line 5): must be a list"},
		{"deep_check not a bool", imapTarget("deep_check: yes please"),
			tp + `deep_check (line 9): must be true or false, got "yes please"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantOnlyError(t, tt.yml, tt.want) })
	}
}

func TestTargetNormalisation(t *testing.T) {
	tests := []struct {
		name  string
		yml   string
		check func(Target) string
	}{
		{"protocol lower-cased", target(" IMAP ", "::1", 143, ""), func(tg Target) string {
			return want("protocol", tg.Protocol, "imap")
		}},
		{"trailing-dot hostname kept", target("imap", "imap.example.org.", 143, ""), func(tg Target) string {
			return want("host", tg.Host, "imap.example.org.") + want("name", tg.Name, "imap://imap.example.org.:143")
		}},
		{"single-label hostname", target("imap", "dovecot", 143, ""), func(tg Target) string {
			return want("host", tg.Host, "dovecot")
		}},
		{"hostname with digits", target("imap", "1mail.example.org", 143, ""), func(tg Target) string {
			return want("host", tg.Host, "1mail.example.org")
		}},
		{"IPv6 literal in default name", target("imap", "2001:db8::1", 143, ""), func(tg Target) string {
			return want("name", tg.Name, "imap://[2001:db8::1]:143")
		}},
		{"bracketed IPv6 unwrapped", target("imap", "[::1]", 143, ""), func(tg Target) string {
			return want("host", tg.Host, "::1")
		}},
		{"explicit name", imapTarget("name: dovecot-a"), func(tg Target) string {
			return want("name", tg.Name, "dovecot-a")
		}},
		{"http request_uri default", target("http", "::1", 80, ""), func(tg Target) string {
			return want("request_uri", tg.RequestURI, "/")
		}},
		{"http request_uri encoded", target("http", "::1", 80, "request_uri: \"/a%20b/c?x=1&y=%2F;z=@:~\""), func(tg Target) string {
			return want("request_uri", tg.RequestURI, "/a%20b/c?x=1&y=%2F;z=@:~")
		}},
		{"tls true is implicit", imapTarget("tls: true"), func(tg Target) string {
			return want("tls_mode", tg.TLSMode, TLSImplicit)
		}},
		{"tls true with implicit", imapTarget("tls: true\ntls_mode: implicit"), func(tg Target) string {
			return want("tls_mode", tg.TLSMode, TLSImplicit)
		}},
		{"default plain", imapTarget(""), func(tg Target) string {
			return want("tls_mode", tg.TLSMode, TLSPlain)
		}},
		{"sieve defaults to starttls", target("sieve", "::1", 4190, "deep_check: true"), func(tg Target) string {
			return want("tls_mode", tg.TLSMode, TLSStartTLS)
		}},
		{"sieve explicit plain", target("sieve", "::1", 4190, "tls_mode: plain"), func(tg Target) string {
			return want("tls_mode", tg.TLSMode, TLSPlain)
		}},
		{"sieve tls true", target("sieve", "::1", 4190, "tls: true"), func(tg Target) string {
			return want("tls_mode", tg.TLSMode, TLSImplicit)
		}},
		{"tls_mode trimmed and lower-cased", imapTarget("tls_mode: ' StartTLS '\ndeep_check: true"), func(tg Target) string {
			return want("tls_mode", tg.TLSMode, TLSStartTLS)
		}},
		{"haproxy command default", imapTarget("haproxy_v2: true"), func(tg Target) string {
			return want("haproxy_v2_command", tg.HAProxyV2Command, HAProxyCommandLocal)
		}},
		{"haproxy command proxy", imapTarget("haproxy_v2: true\nhaproxy_v2_command: PROXY"), func(tg Target) string {
			return want("haproxy_v2_command", tg.HAProxyV2Command, HAProxyCommandProxy)
		}},
		{"no haproxy no command", imapTarget(""), func(tg Target) string {
			return want("haproxy_v2_command", tg.HAProxyV2Command, "")
		}},
		{"tls_server_name hostname", imapTarget("tls: true\ntls_server_name: mail.example.org"), func(tg Target) string {
			return want("tls_server_name", tg.TLSServerName, "mail.example.org")
		}},
		{"credentials over implicit TLS", imapTarget("tls: true\ndeep_check: true\ntest_username: u\ntest_password: p"), func(tg Target) string {
			return want("test_password", tg.TestPassword, "p")
		}},
		{"credentials over starttls", target("smtp", "mail.example.org", 587, "tls_mode: starttls\ndeep_check: true\ntest_username: u\ntest_password: p"), func(tg Target) string {
			return want("tls_mode", tg.TLSMode, TLSStartTLS)
		}},
		{"deep check without credentials over plain", target("lmtp", "mail.example.org", 24, "deep_check: true"), func(tg Target) string {
			return want("tls_mode", tg.TLSMode, TLSPlain)
		}},
		{"plaintext allowed on loopback", imapTarget("allow_plaintext_auth: true\ndeep_check: true\ntest_username: u\ntest_password: p"), func(tg Target) string {
			return want("tls_mode", tg.TLSMode, TLSPlain)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if msg := tt.check(firstTarget(t, tt.yml)); msg != "" {
				t.Error(msg)
			}
		})
	}
}

func want(field, got, want string) string {
	if got != want {
		return fmt.Sprintf("%s = %q, want %q; ", field, got, want)
	}
	return ""
}

func TestPlaintextLoopbackHosts(t *testing.T) {
	for _, host := range []string{"127.0.0.1", "127.8.9.10", "::1", "localhost", "LocalHost.", "::ffff:127.0.0.1"} {
		t.Run(host, func(t *testing.T) {
			firstTarget(t, target("imap", host, 143, "allow_plaintext_auth: true\ndeep_check: true\ntest_username: u\ntest_password: p"))
		})
	}
}

func TestTargetTimeouts(t *testing.T) {
	yml := withGlobals(`connect_interval: 10m
connect_timeout: 2s
tls_timeout: 3s
deep_timeout: 4s
targets:
  - protocol: imap
    host: ::1
    port: 143
  - protocol: imap
    host: ::1
    port: 144
    connect_timeout: 1m
    tls_timeout: 500ms
    deep_timeout: 5m
`)
	targets := mustParse(t, yml).Auth.Services.BackendHealthChecks.Targets
	got := [][3]time.Duration{
		{targets[0].ConnectTimeout, targets[0].TLSTimeout, targets[0].DeepTimeout},
		{targets[1].ConnectTimeout, targets[1].TLSTimeout, targets[1].DeepTimeout},
	}
	want := [][3]time.Duration{
		{2 * time.Second, 3 * time.Second, 4 * time.Second},
		{time.Minute, 500 * time.Millisecond, 5 * time.Minute},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("timeouts = %v, want %v", got, want)
	}
}

func TestMechanismNormalisation(t *testing.T) {
	tests := []struct{ protocol, in, want string }{
		{"imap", "", MechAuto},
		{"imap", "auto", MechAuto},
		{"imap", "AUTO", MechAuto},
		{"imap", " Auto ", MechAuto},
		{"imap", "plain", MechPlain},
		{"smtp", "Login", MechLogin},
		{"pop3", "UserPass", MechUserPass},
		{"pop3", "plain", MechPlain},
		{"http", "basic", MechBasic},
		{"http", "auto", MechAuto},
		{"sieve", " PLAIN ", MechPlain},
	}
	for _, tt := range tests {
		t.Run(tt.protocol+"/"+tt.in, func(t *testing.T) {
			extra := "tls_mode: plain"
			if tt.in != "" {
				extra += fmt.Sprintf("\nauth_mechanism: %q", tt.in)
			}
			if got := firstTarget(t, target(tt.protocol, "::1", 1, extra)).AuthMechanism; got != tt.want {
				t.Errorf("auth_mechanism %q -> %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestMechanismRejected(t *testing.T) {
	const supported = "(use one of auto, PLAIN, LOGIN, USERPASS, BASIC)"
	tests := []struct{ protocol, in, want string }{
		{"imap", "scram-sha-256", "SCRAM-SHA-256 is not supported by health checks " + supported},
		{"imap", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-1-PLUS is not supported by health checks " + supported},
		{"smtp", "oauthbearer", "OAUTHBEARER is not supported by health checks " + supported},
		{"imap", "XOAUTH2", "XOAUTH2 is not supported by health checks " + supported},
		{"imap", "external", "EXTERNAL is not supported by health checks " + supported},
		{"pop3", "cram-md5", "CRAM-MD5 is not supported by health checks " + supported},
		{"sieve", "DIGEST-MD5", "DIGEST-MD5 is not supported by health checks " + supported},
		{"imap", "gssapi", `unknown mechanism "GSSAPI" ` + supported},
		{"imap", "userpass", "USERPASS is POP3's USER/PASS and works only with protocol pop3"},
		{"smtp", "basic", "BASIC is HTTP Basic authentication and works only with protocol http"},
		{"http", "plain", "PLAIN is a SASL mechanism; protocol http authenticates with BASIC (or auto)"},
		{"http", "LOGIN", "LOGIN is a SASL mechanism; protocol http authenticates with BASIC (or auto)"},
	}
	for _, tt := range tests {
		t.Run(tt.protocol+"/"+tt.in, func(t *testing.T) {
			yml := target(tt.protocol, "::1", 1, "tls_mode: plain\nauth_mechanism: "+tt.in)
			wantOnlyError(t, yml, tp+"auth_mechanism (line 10): "+tt.want)
		})
	}
}

func TestNormalizeMechanism(t *testing.T) {
	for in, want := range map[string]string{"": "auto", "  ": "auto", "aUtO": "auto", "plain": "PLAIN", "UserPass": "USERPASS", " login\t": "LOGIN"} {
		if got := NormalizeMechanism(in); got != want {
			t.Errorf("NormalizeMechanism(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDuplicateNames(t *testing.T) {
	yml := withTargets(`- name: a
  protocol: imap
  host: ::1
  port: 1
- name: b
  protocol: imap
  host: ::1
  port: 2
- name: a
  protocol: imap
  host: ::1
  port: 3
`)
	wantOnlyError(t, yml, "auth.services.backend_health_checks.targets[2].name (line 14): name \"a\" is already used by targets[0]; give each target a distinct name")
}
