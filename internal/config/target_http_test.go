package config

import (
	"reflect"
	"strings"
	"testing"
)

const hp = "auth.services.backend_health_checks."

// httpTarget is an http deep-check target; extra lines start at line 10.
func httpTarget(extra string) string {
	return target("http", "::1", 80, "deep_check: true\n"+extra)
}

func TestHTTPCheckKeys(t *testing.T) {
	t.Setenv("HEALTH_TOKEN", "tok")
	tg := firstTarget(t, httpTarget(`expected_status: [200, 204]
expected_text: '"status":"ok"'
headers:
  Host: webmail.example.org
  X-Health-Token: ${HEALTH_TOKEN}`))
	if !reflect.DeepEqual(tg.ExpectedStatus, []int{200, 204}) || tg.ExpectedText != `"status":"ok"` {
		t.Errorf("expectation = %v %q", tg.ExpectedStatus, tg.ExpectedText)
	}
	if tg.Headers["Host"] != "webmail.example.org" || tg.Headers["X-Health-Token"] != "tok" || len(tg.Headers) != 2 {
		t.Errorf("headers = %v", tg.Headers)
	}
	// Left out: the seed's 200 only, not beta_health's list.
	if tg := firstTarget(t, httpTarget("")); !reflect.DeepEqual(tg.ExpectedStatus, []int{200}) {
		t.Errorf("default expected_status = %v, want [200]", tg.ExpectedStatus)
	}
}

func TestHTTPCheckErrors(t *testing.T) {
	long := strings.Repeat("x", MaxExpectedText+1)
	tests := []struct {
		name, yml, want string
	}{
		{"expected_status on imap", imapTarget("expected_status: [200]"),
			tp + "expected_status (line 9): only applies to protocol http"},
		{"expected_text on smtp", target("smtp", "::1", 25, "expected_text: ok"),
			tp + "expected_text (line 9): only applies to protocol http"},
		{"headers on pop3", target("pop3", "::1", 110, "headers: {X-A: b}"),
			tp + "headers (line 9): only applies to protocol http"},
		{"empty status list", httpTarget("expected_status: []"),
			tp + "expected_status (line 10): must list at least one status (leave it out for 200)"},
		{"status out of range", httpTarget("expected_status: [200, 99]"),
			tp + "expected_status[1] (line 10): must be an HTTP status 100..599, got 99"},
		{"status not a number", httpTarget("expected_status: [ok]"),
			tp + `expected_status[0] (line 10): must be a whole number, got "ok"`},
		{"empty text", httpTarget("expected_text: ''"),
			tp + "expected_text (line 10): must not be empty (leave it out to not check the body)"},
		{"text too long", httpTarget("expected_text: " + long),
			tp + "expected_text (line 10): must be at most 65536 bytes (the check reads that much of the body), got 65537"},
		{"header name with space", httpTarget("headers:\n  'X A': b"),
			tp + `headers.X A (line 11): "X A" is not a valid HTTP header name`},
		{"header name with colon", httpTarget("headers:\n  'X-A:': b"),
			tp + `headers.X-A: (line 11): "X-A:" is not a valid HTTP header name`},
		{"header twice in other case", httpTarget("headers:\n  X-A: b\n  x-a: c"),
			tp + "headers.x-a (line 12): is the header X-A again (header names are case-insensitive)"},
		{"connection header", httpTarget("headers:\n  connection: keep-alive"),
			tp + "headers.connection (line 11): is set by the check itself and cannot be configured"},
		{"Host with a space", httpTarget("headers:\n  Host: 'a b'"),
			tp + `headers.Host (line 11): host is not a valid hostname (character ' ' is not allowed): "a b"`},
		{"Host with a bad port", httpTarget("headers:\n  host: a.example:99999"),
			tp + `headers.host (line 11): must be host or host:port with a port 1..65535, got "a.example:99999"`},
		{"Host with an empty port", httpTarget("headers:\n  Host: 'a.example:'"),
			tp + `headers.Host (line 11): must be host or host:port with a port 1..65535, got "a.example:"`},
		{"Host IPv6 unbracketed", httpTarget("headers:\n  Host: '2001:db8::1'"),
			tp + `headers.Host (line 11): must put an IPv6 address in brackets ([2001:db8::1]), got "2001:db8::1"`},
		{"Host bad bracket", httpTarget("headers:\n  Host: '[a.example]:80'"),
			tp + `headers.Host (line 11): is not a bracketed IPv6 address: "[a.example]:80"`},
		{"Host with a path", httpTarget("headers:\n  Host: a.example/x"),
			tp + `headers.Host (line 11): host is not a valid hostname (character '/' is not allowed): "a.example/x"`},
		{"expected_status without deep_check", target("http", "::1", 80, "expected_status: [200]"),
			tp + "expected_status (line 9): only applies with deep_check (a connect-only check sends no HTTP request)"},
		{"headers without deep_check", target("http", "::1", 80, "headers: {X-A: b}"),
			tp + "headers (line 9): only applies with deep_check (a connect-only check sends no HTTP request)"},
		{"authorization with basic", target("http", "::1", 443, "tls: true\ndeep_check: true\ntest_username: u\ntest_password: p\nheaders:\n  Authorization: Bearer s3cret"),
			tp + "headers.Authorization (line 14): conflicts with test_username (HTTP Basic sends its own Authorization header)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantOnlyError(t, tt.yml, tt.want) })
	}
}

// A header value that would end the header line is refused, and the
// message never quotes it: it may be a credential.
func TestHTTPCheckHeaderValueHostile(t *testing.T) {
	for name, value := range map[string]string{
		"CRLF":    `"s3cret\r\nX-Injected: 1"`,
		"LF":      `"s3cret\nGET / HTTP/1.1"`,
		"NUL":     `"s3cret\x00"`,
		"ESC":     `"s3cret\e[2J"`,
		"DEL":     `"s3cret\x7f"`,
		"lone CR": `"s3cret\r"`,
	} {
		t.Run(name, func(t *testing.T) {
			got := parseErrors(t, httpTarget("headers:\n  Authorization: "+value))
			want := tp + "headers.Authorization (line 11): value must not contain control characters (a line break would start another header)"
			if len(got) != 1 || got[0] != want {
				t.Errorf("errors = %q, want %q", got, want)
			}
			if strings.Contains(strings.Join(got, "\n"), "s3cret") {
				t.Errorf("message quotes the header value: %q", got)
			}
		})
	}
	for _, host := range []string{"webmail.example.org", "webmail.example.org:8443", "192.0.2.1", "[2001:db8::1]", "[2001:db8::1]:8080"} {
		if tg := firstTarget(t, httpTarget("headers:\n  Host: '"+host+"'")); tg.Headers["Host"] != host {
			t.Errorf("Host %q loaded as %q", host, tg.Headers["Host"])
		}
	}
	// A tab is allowed inside a value (RFC 9110 field-content).
	if tg := firstTarget(t, httpTarget("headers:\n  X-A: \"a\\tb\"")); tg.Headers["X-A"] != "a\tb" {
		t.Errorf("tab value = %q", tg.Headers["X-A"])
	}
}

func TestHeloName(t *testing.T) {
	tests := []struct {
		name, yml, want string
	}{
		{"default", target("smtp", "::1", 25, ""), ""},
		{"per target", target("lmtp", "::1", 24, "helo_name: probe.example.org"), "probe.example.org"},
		{"service-wide", withGlobals("helo_name: checks.example.org\ntargets:\n  - {protocol: smtp, host: '::1', port: 25}"), "checks.example.org"},
		{"target wins", withGlobals("helo_name: checks.example.org\ntargets:\n  - {protocol: smtp, host: '::1', port: 25, helo_name: mx1.example.org}"), "mx1.example.org"},
		{"IPv4 literal", target("smtp", "::1", 25, "helo_name: '[192.0.2.1]'"), "[192.0.2.1]"},
		{"IPv6 literal", target("smtp", "::1", 25, "helo_name: '[IPv6:2001:db8::1]'"), "[IPv6:2001:db8::1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := firstTarget(t, tt.yml).HeloName; got != tt.want {
				t.Errorf("helo_name = %q, want %q", got, tt.want)
			}
		})
	}
	// The service-wide name is not given to targets that send no EHLO.
	if got := firstTarget(t, withGlobals("helo_name: a.example.org\ntargets:\n  - {protocol: imap, host: '::1', port: 143}")).HeloName; got != "" {
		t.Errorf("imap target got helo_name %q", got)
	}
}

func TestHeloNameErrors(t *testing.T) {
	tests := []struct {
		name, yml, want string
	}{
		{"on imap", imapTarget("helo_name: a.example.org"),
			tp + "helo_name (line 9): only applies to protocol smtp and lmtp"},
		{"on http", httpTarget("helo_name: a.example.org"),
			tp + "helo_name (line 10): only applies to protocol smtp and lmtp"},
		{"empty", target("smtp", "::1", 25, "helo_name: ''"),
			tp + "helo_name (line 9): must not be empty (leave it out for localhost.localdomain)"},
		{"CRLF injection", target("smtp", "::1", 25, `helo_name: "a.example.org\r\nMAIL FROM:<x@y>"`),
			tp + `helo_name (line 9): must be a domain or an address literal without spaces or control characters, got "a.example.org\r\nMAIL FROM:<x@y>"`},
		{"space", target("smtp", "::1", 25, "helo_name: 'a.example.org QUIT'"),
			tp + `helo_name (line 9): must be a domain or an address literal without spaces or control characters, got "a.example.org QUIT"`},
		{"NUL", target("lmtp", "::1", 24, `helo_name: "a\x00b"`),
			tp + `helo_name (line 9): must be a domain or an address literal without spaces or control characters, got "a\x00b"`},
		{"non-ASCII", target("smtp", "::1", 25, "helo_name: bücher.example"),
			tp + `helo_name (line 9): must be a domain or an address literal without spaces or control characters, got "bücher.example"`},
		{"underscore", target("smtp", "::1", 25, "helo_name: a_b.example.org"),
			tp + `helo_name (line 9): is not a valid hostname (character '_' is not allowed): "a_b.example.org"`},
		{"trailing dot", target("smtp", "::1", 25, "helo_name: a.example.org."),
			tp + `helo_name (line 9): must not end with '.' (a domain in EHLO has no trailing dot): "a.example.org."`},
		{"bare IPv4", target("smtp", "::1", 25, "helo_name: 192.0.2.1"),
			tp + "helo_name (line 9): an IPv4 address must be written as an address literal: [192.0.2.1]"},
		{"bare IPv6", target("smtp", "::1", 25, "helo_name: '2001:db8::1'"),
			tp + "helo_name (line 9): an IPv6 address must be written as an address literal: [IPv6:2001:db8::1]"},
		{"IPv6 without tag", target("smtp", "::1", 25, "helo_name: '[2001:db8::1]'"),
			tp + `helo_name (line 9): is not an address literal ([192.0.2.1] or [IPv6:2001:db8::1]): "[2001:db8::1]"`},
		{"IPv4 under IPv6 tag", target("smtp", "::1", 25, "helo_name: '[IPv6:192.0.2.1]'"),
			tp + `helo_name (line 9): is not an IPv6 address literal ([IPv6:2001:db8::1]): "[IPv6:192.0.2.1]"`},
		{"unclosed literal", target("smtp", "::1", 25, "helo_name: '[192.0.2.1'"),
			tp + `helo_name (line 9): address literal must end with ']', got "[192.0.2.1"`},
		{"service-wide bad", withGlobals("helo_name: 'a b'\ntargets:\n  - {protocol: smtp, host: '::1', port: 25}"),
			hp + `helo_name (line 5): must be a domain or an address literal without spaces or control characters, got "a b"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantOnlyError(t, tt.yml, tt.want) })
	}
}
