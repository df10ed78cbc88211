package migrate

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/backline/backline/internal/config"
)

// Hostile files are refused by the config package's limits before any
// walk: more than 1 MiB, an alias bomb, a recursive alias, deep nesting,
// control characters, several documents.
func TestNauthilusHostileInput(t *testing.T) {
	var bomb strings.Builder
	bomb.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 9; i++ {
		bomb.WriteString(strings.Replace("aN: &aN [", "N", string(rune('0'+i)), 2))
		for j := 0; j < 10; j++ {
			if j > 0 {
				bomb.WriteString(", ")
			}
			bomb.WriteString("*a" + string(rune('0'+i-1)))
		}
		bomb.WriteString("]\n")
	}
	cases := map[string]struct{ in, want string }{
		"over 1 MiB":      {"server:\n  address: \"" + strings.Repeat("x", config.MaxConfigFileSize) + "\"\n", "larger than"},
		"alias bomb":      {bomb.String(), "through aliases"},
		"recursive alias": {"a: &a [*a]\n", "recursive alias"},
		"deep nesting":    {strings.Repeat("[", 200) + strings.Repeat("]", 200), "deeper than"},
		"control char":    {"server:\n  address: \"a\x01\"\n", "control character"},
		"two documents":   {"server: {}\n---\nlua: {}\n", "only one YAML document"},
		"truncated":       {"server:\n  address: \"127.0.0.1", "yaml syntax"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Nauthilus([]byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// Every key of every type in the wrong shape: no panic, and the output is
// still YAML.
func TestNauthilusWrongShapes(t *testing.T) {
	shapes := []string{"1", "[]", "{}", "[1, {a: b}]", "{a: [1]}", "~", "\"${X}\""}
	keys := []string{
		"server", "server.redis", "server.redis.master", "server.redis.tls", "server.features", "server.backends",
		"server.log", "server.basic_auth", "lua.filters", "lua.config", "backend_server_monitoring",
		"backend_server_monitoring.backend_servers", "auth.services.backend_health_checks.targets",
		"auth.policy.checks", "auth.policy.attribute_sources.lua.subject", "auth.backends.order",
		"storage.redis.sentinels", "runtime.servers.http", "observability.log",
	}
	for _, key := range keys {
		for _, shape := range shapes {
			parts := strings.Split(key, ".")
			var b strings.Builder
			for i, p := range parts {
				b.WriteString(strings.Repeat("  ", i) + p + ":")
				if i < len(parts)-1 {
					b.WriteString("\n")
				}
			}
			b.WriteString(" " + shape + "\n")
			r, err := Nauthilus([]byte(b.String()))
			if err != nil {
				t.Errorf("%s = %s: %v", key, shape, err)
				continue
			}
			var n yaml.Node
			if err := yaml.Unmarshal(r.YAML, &n); err != nil {
				t.Errorf("%s = %s: output is not YAML: %v\n%s", key, shape, err, r.YAML)
			}
		}
	}
}

// FuzzMigrateNauthilus: any input either fails cleanly or converts into a
// single YAML document that the config package can read (it may refuse
// its values, never its syntax).
func FuzzMigrateNauthilus(f *testing.F) {
	for _, seed := range []string{
		"", "server: {address: 127.0.0.1:9080}\n",
		"backend_server_monitoring:\n  backend_servers:\n    - {protocol: sieve, host: h, port: 4190}\n",
		"auth:\n  policy:\n    checks:\n      - {type: lua.filter, config_ref: a.b.f, run_if: {auth_state: authenticated}}\n    attribute_sources: {lua: {subject: [{name: f, script_path: /x}]}}\n",
		"x: &a {k: v}\nserver:\n  redis:\n    <<: *a\n    master: {address: 'r:1'}\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Nauthilus(data)
		if err != nil {
			return
		}
		if _, err := config.ParseYAML(r.YAML); err != nil {
			t.Fatalf("output is not readable YAML: %v\n%s", err, r.YAML)
		}
		for _, n := range r.Notes {
			if strings.ContainsAny(n.String(), "\n\r") {
				t.Fatalf("note spans lines: %q", n.String())
			}
		}
	})
}
