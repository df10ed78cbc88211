package config

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestNamesRejectControlCharacters(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "f.lua")
	writeFile(t, script, "-- filter\n")
	t.Setenv("BACKLINE_TEST_BAD_NAME", "bad\xffname")
	const ctl = "must not contain control characters (it becomes a /metrics label and a log field)"
	tests := []struct{ name, yml, want string }{
		{"NUL in a target name", imapTarget(`name: "imap\0one"`),
			tp + "name (line 9): " + ctl},
		{"escape sequence in a target name", imapTarget(`name: "\e[31mred"`),
			tp + "name (line 9): " + ctl},
		{"newline in a target name", imapTarget(`name: "a\nb"`),
			tp + "name (line 9): " + ctl},
		{"C1 control in a target name", imapTarget(`name: "a\u0085b"`),
			tp + "name (line 9): " + ctl},
		{"invalid UTF-8 from the environment", imapTarget("name: ${BACKLINE_TEST_BAD_NAME}"),
			tp + "name (line 9): must be valid UTF-8 (it becomes a /metrics label)"},
		{"overlong target name", imapTarget("name: " + strings.Repeat("n", 257)),
			tp + "name (line 9): must be at most 256 bytes, got 257"},
		{"filter name", "lua:\n  filters:\n    - name: \"geo\\tip\"\n      script_path: " + script + "\n",
			"lua.filters[0].name (line 3): " + ctl},
		{"passdb name", "auth:\n  passdb:\n    - name: \"db\\r\\n\"\n      type: backend_login\n",
			"auth.passdb[0].name (line 3): " + ctl},
		{"NUL in test_username", imapTarget("tls: true\ndeep_check: true\ntest_username: \"u\\0\"\ntest_password: pw"),
			tp + "test_username (line 11): must not contain control characters"},
		{"escape in test_password", imapTarget("tls: true\ndeep_check: true\ntest_username: u\ntest_password: \"p\\ew\""),
			tp + "test_password (line 12): must not contain control characters"},
		{"overlong gateway backend label", "definitions:\n  backends:\n    " + strings.Repeat("b", 257) + ":\n      origin: http://127.0.0.1:1\n",
			"definitions.backends." + strings.Repeat("b", 257) + " (line 3): label must be at most 256 bytes, got 257"},
		{"control character in a gateway backend label", "definitions:\n  backends:\n    \"a\\tb\":\n      origin: http://127.0.0.1:1\n",
			"definitions.backends.a\tb (line 3): label contains invalid character(s), allowed are 'a-z', 'A-Z', '0-9' and '_'"},
		{"control character in an endpoint path", gatewayEndpoints("- path: \"/a\\0b\"\n  proxy: {url: \"http://127.0.0.1:1\"}\n"),
			`gateway.endpoints[0].path (line 4): must not contain control characters`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantOnlyError(t, tt.yml, tt.want)
		})
	}
	// A name of printable Unicode is fine.
	if got := firstTarget(t, imapTarget(`name: "Köln – imap"`)).Name; got != "Köln – imap" {
		t.Errorf("name = %q", got)
	}
}

// gatewayEndpoints puts body under gateway.endpoints; its first line is line 4.
func gatewayEndpoints(body string) string {
	return "gateway:\n  address: 127.0.0.1:18080\n  endpoints:\n" + indent(body, 4)
}

func TestDuplicateEndpointPaths(t *testing.T) {
	proxy := "  proxy: {url: \"http://127.0.0.1:1\"}\n"
	tests := []struct{ name, body, want string }{
		{"same path", "- path: /x\n" + proxy + "- path: /x\n" + proxy,
			`gateway.endpoints[1].path (line 6): "/x" (all methods) is already served by gateway.endpoints[0].path (line 4): "/x" (all methods); requests would silently go to the first`},
		{"parameters of another name", "- path: /u/{id}\n" + proxy + "- path: /u/{name}\n  methods: [post]\n" + proxy,
			`gateway.endpoints[1].path (line 6): "/u/{name}" (POST) is already served by gateway.endpoints[0].path (line 4): "/u/{id}" (all methods); requests would silently go to the first`},
		{"GET covers HEAD", "- path: /x\n  methods: [GET, PUT]\n" + proxy + "- path: /x\n  methods: [HEAD]\n" + proxy,
			`gateway.endpoints[1].path (line 7): "/x" (HEAD) is already served by gateway.endpoints[0].path (line 4): "/x" (GET, PUT); requests would silently go to the first`},
		{"wildcards", "- path: /api/**\n" + proxy + "- path: /api/**\n  methods: [DELETE]\n" + proxy,
			`gateway.endpoints[1].path (line 6): "/api/**" (DELETE) is already served by gateway.endpoints[0].path (line 4): "/api/**" (all methods); requests would silently go to the first`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantOnlyError(t, gatewayEndpoints(tt.body), tt.want)
		})
	}
	for name, body := range map[string]string{
		"different methods": "- path: /x\n  methods: [GET]\n" + proxy + "- path: /x\n  methods: [POST]\n" + proxy,
		"trailing slash":    "- path: /x\n" + proxy + "- path: /x/\n" + proxy,
		"literal and param": "- path: /u/me\n" + proxy + "- path: /u/{id}\n" + proxy,
		"longer path":       "- path: /u/{id}\n" + proxy + "- path: /u/{id}/x\n" + proxy,
	} {
		t.Run(name, func(t *testing.T) { mustParse(t, gatewayEndpoints(body)) })
	}
}

// TestManyEndpointsOnOnePath keeps the duplicate check linear: thousands of
// endpoints that share a path with distinct methods are legal.
func TestManyEndpointsOnOnePath(t *testing.T) {
	var b strings.Builder
	for i := range 5000 {
		fmt.Fprintf(&b, "- {path: /x, methods: [M%d], proxy: {url: \"http://127.0.0.1:1\"}}\n", i)
	}
	if got := parseWithin(t, gatewayEndpoints(b.String()), 20*time.Second); got != nil {
		t.Fatalf("errors: %q", got[:min(len(got), 3)])
	}
}
