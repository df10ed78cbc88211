package config

import (
	"strings"
	"testing"
	"time"
)

func TestTargetWeight(t *testing.T) {
	if w := firstTarget(t, imapTarget("tls: true")).EffectiveWeight(); w != 1 {
		t.Errorf("default weight = %d, want 1", w)
	}
	for _, c := range []struct {
		yml  string
		want int
	}{{"weight: 0", 0}, {"weight: 256", 256}, {"weight: 7", 7}} {
		if w := firstTarget(t, imapTarget("tls: true\n"+c.yml)).EffectiveWeight(); w != c.want {
			t.Errorf("%s: weight = %d", c.yml, w)
		}
	}
	const tp = "auth.services.backend_health_checks.targets[0]."
	for _, c := range []struct{ yml, want string }{
		{"weight: 257", tp + "weight (line 10): must be 0..256, got 257"},
		{"weight: -1", tp + "weight (line 10): must be 0..256, got -1"},
	} {
		wantError(t, imapTarget("tls: true\n"+c.yml), c.want)
	}
	for _, bad := range []string{"weight: heavy", "weight: 1.5", "weight: [1]"} {
		if errs := parseErrors(t, imapTarget("tls: true\n"+bad)); !strings.Contains(strings.Join(errs, "\n"), "weight") {
			t.Errorf("%s: %q", bad, errs)
		}
	}
}

func TestServerAdminKeys(t *testing.T) {
	c := mustParse(t, "server:\n  state_file: /var/lib/backline/admin.json\n  shutdown_delay: 5s\n")
	if c.Server.StateFile != "/var/lib/backline/admin.json" || c.Server.ShutdownDelay != 5*time.Second {
		t.Errorf("got %q %v", c.Server.StateFile, c.Server.ShutdownDelay)
	}
	if c := mustParse(t, "server:\n  address: 127.0.0.1:9080\n"); c.Server.StateFile != "" || c.Server.ShutdownDelay != 0 {
		t.Errorf("defaults: %q %v", c.Server.StateFile, c.Server.ShutdownDelay)
	}
	for _, c := range []struct{ yml, want string }{
		{"server:\n  shutdown_delay: 61s\n", "server.shutdown_delay (line 2): must be 0..1m, got 1m1s"},
		{"server:\n  shutdown_delay: -1s\n", `server.shutdown_delay (line 2): duration "-1s" must not be negative`},
		{"server:\n  state_file: admin.json\n", `server.state_file (line 2): must be an absolute path, got "admin.json"`},
		{"server:\n  state_file: /var/lib/\n", `server.state_file (line 2): must name a file, not a directory: "/var/lib/"`},
		{"server:\n  state_file: \"/tmp/a\\nb\"\n", "server.state_file (line 2): must not contain NUL or line breaks"},
		{"server:\n  state_file: ''\n", "server.state_file (line 2): must not be empty (leave the key out for the default)"},
	} {
		wantError(t, c.yml, c.want)
	}
}
