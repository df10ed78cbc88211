package config

import (
	"net/netip"
	"strings"
	"testing"
)

func TestLuaModuleConfigDefaultsAndValues(t *testing.T) {
	c, err := Parse([]byte("lua:\n  config:\n    max_memory: 8MiB\n"))
	if err != nil {
		t.Fatal(err)
	}
	m := c.Lua.Config.LuaModuleConfig
	if m.PasswordHashLength != 8 || m.HTTPClient.Timeout != DefaultLuaHTTPTimeout || m.HTTPClient.MaxResponseBody != DefaultLuaHTTPMaxResponseBody ||
		m.HTTPClient.MaxRedirects != 5 || m.Mail.Timeout != DefaultLuaMailTimeout ||
		len(m.HTTPClient.AllowedHosts) != 0 || len(m.Mail.AllowedHosts) != 0 {
		t.Errorf("defaults: %+v", m)
	}
	c, err = Parse([]byte(`lua:
  config:
    password_nonce: n0nce
    password_hash_length: 64
    ip_scoping_v4_cidr: 24
    ip_scoping_v6_cidr: 64
    http_client:
      allowed_hosts: [api.example.com, "*.example.org:8443", 127.0.0.1, "10.0.0.0/8", "[::1]:80"]
      timeout: 2s
      max_response_body: 64KiB
      max_redirects: 0
    mail:
      allowed_hosts: ["127.0.0.1:25"]
      timeout: 5s
`))
	if err != nil {
		t.Fatal(err)
	}
	m = c.Lua.Config.LuaModuleConfig
	if m.PasswordNonce != "n0nce" || m.PasswordHashLength != 64 || m.IPScopingV4CIDR != 24 || m.IPScopingV6CIDR != 64 ||
		len(m.HTTPClient.AllowedHosts) != 5 || m.HTTPClient.MaxRedirects != 0 || m.HTTPClient.MaxResponseBody != 64<<10 ||
		m.Mail.AllowedHosts[0] != "127.0.0.1:25" {
		t.Errorf("values: %+v", m)
	}
}

func TestLuaModuleConfigErrors(t *testing.T) {
	for _, c := range []struct{ yaml, want string }{
		{"password_hash_length: 12", "lua.config.password_hash_length (line 3): must be 8 (Nauthilus up to 3.0) or 64 (3.1), got 12"},
		{"ip_scoping_v4_cidr: 33", "lua.config.ip_scoping_v4_cidr (line 3): must be between 0 (no scoping) and 32, got 33"},
		{"ip_scoping_v6_cidr: -1", "lua.config.ip_scoping_v6_cidr (line 3): must be between 0 (no scoping) and 128"},
		{"http_client:\n      allowed_hosts: [ok.example, \"bad host\"]", `lua.config.http_client.allowed_hosts[1] (line 4): "bad host" is not a host name`},
		{"http_client:\n      allowed_hosts: [\"a.example:0\"]", `lua.config.http_client.allowed_hosts[0] (line 4): "a.example:0": port must be 1..65535`},
		{"mail:\n      allowed_hosts: [\"\"]", `lua.config.mail.allowed_hosts[0] (line 4): is empty`},
		{"mail:\n      allowed_hosts: [\"smtp\\r\\n.example\"]", `lua.config.mail.allowed_hosts[0] (line 4)`},
		{"http_client:\n      timeout: 0s", "lua.config.http_client.timeout (line 4): must be more than 0 and at most 5m0s"},
		{"mail:\n      timeout: 10m", "lua.config.mail.timeout (line 4): must be more than 0"},
		{"http_client:\n      max_response_body: 1GiB", "lua.config.http_client.max_response_body (line 4): must be between 1B and 64MiB"},
		{"http_client:\n      max_redirects: 99", "lua.config.http_client.max_redirects (line 4): must be between 0 and 20"},
		{"http_client:\n      allowed: [x]", "lua.config.http_client.allowed"},
	} {
		_, err := Parse([]byte("lua:\n  config:\n    " + c.yaml + "\n"))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.yaml, err, c.want)
		}
	}
}

func TestHostPatternMatches(t *testing.T) {
	ip := netip.MustParseAddr
	cases := []struct {
		pattern, name string
		addr          netip.Addr
		port          int
		want          bool
	}{
		{"api.example.com", "api.example.com", ip("192.0.2.1"), 443, true},
		{"api.example.com", "evil.example.com", ip("192.0.2.1"), 443, false},
		{"API.example.com:443", "api.example.com", ip("192.0.2.1"), 80, false},
		{"*.example.com", "a.b.example.com", netip.Addr{}, 80, true},
		{"*.example.com", "example.com", netip.Addr{}, 80, false},
		{"*.example.com", "badexample.com", netip.Addr{}, 80, false},
		{"127.0.0.1", "localhost", ip("127.0.0.1"), 8080, true},
		{"127.0.0.1:25", "127.0.0.1", ip("127.0.0.1"), 26, false},
		{"10.0.0.0/8", "internal", ip("10.2.3.4"), 1, true},
		{"10.0.0.0/8", "internal", ip("11.2.3.4"), 1, false},
		{"[::1]:80", "::1", ip("::1"), 80, true},
		{"::1", "x", ip("::ffff:127.0.0.1"), 80, false},
		{"127.0.0.1", "x", ip("::ffff:127.0.0.1"), 80, true},
	}
	for _, c := range cases {
		p, err := ParseHostPattern(c.pattern)
		if err != nil {
			t.Fatalf("%s: %v", c.pattern, err)
		}
		if got := p.Matches(c.name, c.addr, c.port); got != c.want {
			t.Errorf("%s matches (%s, %v, %d) = %v", c.pattern, c.name, c.addr, c.port, got)
		}
	}
}

// FuzzParseHostPattern: any entry parses or fails; a parsed one never
// matches a name it was not written for by accident of case or dots.
func FuzzParseHostPattern(f *testing.F) {
	for _, s := range []string{"a.example", "*.example.com:443", "[::1]:25", "10.0.0.0/8", "1.2.3.4:0", "x:y:z", "", "*."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseHostPattern(s)
		if err != nil {
			return
		}
		if p.Name == "" && !p.Prefix.IsValid() {
			t.Fatalf("%q: neither name nor prefix", s)
		}
		if p.Port < 0 || p.Port > 65535 {
			t.Fatalf("%q: port %d", s, p.Port)
		}
		if strings.ContainsAny(p.Name, " \r\n\t/") {
			t.Fatalf("%q: name %q", s, p.Name)
		}
		p.Matches("evil.test", netip.MustParseAddr("192.0.2.1"), 80)
	})
}
