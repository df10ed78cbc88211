package config

import (
	"strings"
	"testing"
	"time"
)

func TestDownIntervalMail(t *testing.T) {
	h := mustParse(t, withGlobals("connect_interval: 30s\ndown_interval: 5m")).Auth.Services.BackendHealthChecks
	if h.DownInterval != 5*time.Minute {
		t.Errorf("down_interval = %s, want 5m", h.DownInterval)
	}
	if h := mustParse(t, withGlobals("jitter: 0")).Auth.Services.BackendHealthChecks; h.DownInterval != 0 {
		t.Errorf("default down_interval = %s, want 0 (the intervals)", h.DownInterval)
	}
	mustParse(t, withGlobals("down_interval: 0"))  // written 0: off
	mustParse(t, withGlobals("down_interval: 1s")) // shorter than connect_interval: allowed
	mustParse(t, withGlobals("down_interval: 24h"))
}

func TestDownIntervalErrors(t *testing.T) {
	const p = "auth.services.backend_health_checks.down_interval"
	for _, tc := range []struct{ yml, want string }{
		{withGlobals("down_interval: -1s"), p + ` (line 5): duration "-1s" must not be negative`}, // the decoder's
		{withGlobals("down_interval: 500ms"), p + " (line 5): must be at least 1s, got 500ms (a backend gets at most one requested probe per second)"},
		{withGlobals("connect_interval: 1m\ndown_interval: 25h"), p + " (line 6): must be at most 24h, got 25h0m0s"},
		{healthYAML("interval: 10s\ndown_interval: 100ms\n"), "definitions.backends.api.beta_health.down_interval (line 7): must be at least 1s, got 100ms (a backend gets at most one requested probe per second)"},
		{healthYAML("down_interval: 48h\n"), "definitions.backends.api.beta_health.down_interval (line 6): must be at most 24h, got 48h0m0s"},
	} {
		wantOnlyError(t, tc.yml, tc.want)
	}
	// Hostile values are refused by the decoder, each with its key path.
	for _, v := range []string{"x", "[1s]", "{a: b}", "9999999999999999999999h", "'1s; rm -rf /'", "\"1s\\x00\"", strings.Repeat("9", 4096) + "s"} {
		errs := parseErrors(t, withGlobals("down_interval: "+v))
		if len(errs) == 0 || !strings.HasPrefix(errs[0], p) {
			t.Errorf("down_interval: %.40s: errors %q, want one at %s", v, errs, p)
		}
	}
	// Written twice: the decoder's duplicate-key error, with its line.
	errs := parseErrors(t, withGlobals("down_interval: 1m\ndown_interval: 2m"))
	if len(errs) == 0 || !strings.HasPrefix(errs[0], p+" (line 6)") {
		t.Errorf("duplicate down_interval: errors %q", errs)
	}
}

func TestDownIntervalGateway(t *testing.T) {
	h := mustParse(t, healthYAML("interval: 10s\ndown_interval: 1m\n")).Definitions.Backends["api"].Health
	if h.DownInterval != time.Minute || h.Interval != 10*time.Second {
		t.Errorf("down_interval %s interval %s", h.DownInterval, h.Interval)
	}
	if h := mustParse(t, healthYAML("path: /h\n")).Definitions.Backends["api"].Health; h.DownInterval != 0 {
		t.Errorf("default down_interval = %s, want 0", h.DownInterval)
	}
	mustParse(t, originsYAML("origins: [http://127.0.0.1:1, http://127.0.0.1:2]\nbeta_health:\n  interval: 5s\n  down_interval: 30s\n"))
}

func TestDownIntervalWarnings(t *testing.T) {
	const p = "auth.services.backend_health_checks.down_interval"
	for _, tc := range []struct{ yml, want string }{
		{withGlobals("down_interval: 10s"), p + " (line 5): has no effect: it equals the interval (10s)"},
		{withGlobals("connect_interval: 30s\nrecovery_threshold: 2\ndown_interval: 5s"),
			p + " (line 7): finds a recovered backend sooner, but with recovery_threshold 2 the successes after the first come at the interval (30s), not at down_interval: set fast_interval to at most 5s"},
		{withGlobals("connect_interval: 30s\nrecovery_threshold: 2\nfast_interval: 10s\ndown_interval: 5s"),
			p + " (line 8): finds a recovered backend sooner, but with recovery_threshold 2 the successes after the first come at fast_interval (10s)"},
		{healthYAML("interval: 4s\ndown_interval: 4s\n"), "definitions.backends.api.beta_health.down_interval (line 7): has no effect: it equals the interval (4s)"},
		{healthYAML("interval: 30s\nrecovery_threshold: 2\ndown_interval: 2s\n"), "definitions.backends.api.beta_health.down_interval (line 8): finds a recovered backend sooner, but with recovery_threshold"},
	} {
		if got := strings.Join(mustParse(t, tc.yml).Warnings(), "\n"); !strings.Contains(got, tc.want) {
			t.Errorf("warnings\n%s\nwant %s", got, tc.want)
		}
	}
	for _, yml := range []string{
		withGlobals("connect_interval: 30s\ndown_interval: 5m"),                                           // longer: probe dead backends less
		withGlobals("connect_interval: 30s\ndown_interval: 5s"),                                           // recovery_threshold 1: the first success is enough
		withGlobals("connect_interval: 30s\nrecovery_threshold: 3\nfast_interval: 5s\ndown_interval: 5s"), // fast_interval paces the rest
		withGlobals("connect_interval: 10s\ndeep_interval: 1m\ndown_interval: 1m"),                        // differs from connect_interval
		healthYAML("interval: 30s\ndown_interval: 5m\n"),
	} {
		if got := strings.Join(mustParse(t, yml).Warnings(), "\n"); strings.Contains(got, "down_interval") {
			t.Errorf("unexpected warning for\n%s\n%s", yml, got)
		}
	}
}
