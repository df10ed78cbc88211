package config

import (
	"strings"
	"testing"
	"time"
)

// Review of down_interval validation: bounds at both ends, units, the
// gateway's key path and line for every error, duplicates and hostile
// values there too, and the warnings with beta_health's default interval.
func TestReviewDownIntervalBounds(t *testing.T) {
	const p = "auth.services.backend_health_checks.down_interval"
	// A bare number is seconds (docs/gateway.md), as for every duration.
	for _, ok := range []string{"0", "0s", "1s", "1000ms", "86400s", "24h", "1440m", "5", "86400"} {
		if h := mustParse(t, withGlobals("connect_interval: 30s\ndown_interval: "+ok)).Auth.Services.BackendHealthChecks; h.DownInterval < 0 || h.DownInterval > 24*time.Hour {
			t.Errorf("down_interval: %s parsed as %s", ok, h.DownInterval)
		}
	}
	for _, tc := range []struct{ v, want string }{
		{"1ms", p + " (line 6): must be at least 1s, got 1ms (a backend gets at most one requested probe per second)"},
		{"999ms", p + " (line 6): must be at least 1s, got 999ms (a backend gets at most one requested probe per second)"},
		{"24h0m0.001s", p + " (line 6): must be at most 24h, got 24h0m0.001s"},
		{"25h", p + " (line 6): must be at most 24h, got 25h0m0s"},
	} {
		wantOnlyError(t, withGlobals("connect_interval: 30s\ndown_interval: "+tc.v), tc.want)
	}
	for _, bad := range []string{"-1ns", "-24h", "1 h", "1d", "1w", "0.5", "90000", "true", "null_ish", "''", "1s\u200b", "\"1s\\x00\""} {
		errs := parseErrors(t, withGlobals("connect_interval: 30s\ndown_interval: "+bad))
		if len(errs) == 0 || !strings.HasPrefix(errs[0], p+" (line 6)") {
			t.Errorf("down_interval: %q: errors %q, want one at %s (line 6)", bad, errs, p)
		}
		for _, e := range errs {
			if strings.ContainsAny(e, "\t\u200b") {
				t.Errorf("down_interval: %q: control or invisible character echoed: %q", bad, e)
			}
		}
	}
}

func TestReviewDownIntervalGatewayErrors(t *testing.T) {
	const p = "definitions.backends.api.beta_health.down_interval"
	for _, tc := range []struct{ yml, want string }{
		{healthYAML("interval: 10s\ndown_interval: 1ms\n"), p + " (line 7): must be at least 1s, got 1ms (a backend gets at most one requested probe per second)"},
		{healthYAML("interval: 10s\ndown_interval: 25h\n"), p + " (line 7): must be at most 24h, got 25h0m0s"},
	} {
		wantOnlyError(t, tc.yml, tc.want)
	}
	for _, bad := range []string{"-1s", "x", "[1s]", "{a: b}", "9999999999999999999999h"} {
		errs := parseErrors(t, healthYAML("interval: 10s\ndown_interval: "+bad+"\n"))
		if len(errs) == 0 || !strings.HasPrefix(errs[0], p+" (line 7)") {
			t.Errorf("beta_health down_interval: %q: errors %q, want one at %s (line 7)", bad, errs, p)
		}
	}
	errs := parseErrors(t, healthYAML("interval: 10s\ndown_interval: 1m\ndown_interval: 2m\n"))
	if len(errs) == 0 || !strings.HasPrefix(errs[0], p+" (line 8)") {
		t.Errorf("duplicate beta_health down_interval: errors %q, want one at %s (line 8)", errs, p)
	}
	// The several-origins form has the same key at its own path.
	wantOnlyError(t, originsYAML("origins: [http://127.0.0.1:1, http://127.0.0.1:2]\nbeta_health:\n  interval: 5s\n  down_interval: 500ms\n"),
		p+" (line 7): must be at least 1s, got 500ms (a backend gets at most one requested probe per second)")
}

// beta_health without interval runs at its default; a down_interval equal
// to that default changes nothing and is warned about as when written.
func TestReviewDownIntervalWarningWithDefaultInterval(t *testing.T) {
	c := mustParse(t, healthYAML("path: /h\n"))
	def := c.Definitions.Backends["api"].Health.Interval
	if def <= 0 {
		t.Fatalf("default beta_health interval %s", def)
	}
	got := strings.Join(mustParse(t, healthYAML("path: /h\ndown_interval: "+def.String()+"\n")).Warnings(), "\n")
	if !strings.Contains(got, "definitions.backends.api.beta_health.down_interval (line 7): has no effect") {
		t.Errorf("down_interval equal to the default interval %s: warnings\n%s", def, got)
	}
}
