package config

import (
	"strings"
	"testing"
	"time"
)

func TestFastIntervalMail(t *testing.T) {
	h := mustParse(t, withGlobals("connect_interval: 30s\nfast_interval: 5s")).Auth.Services.BackendHealthChecks
	if h.FastInterval != 5*time.Second {
		t.Errorf("fast_interval = %s, want 5s", h.FastInterval)
	}
	if h := mustParse(t, withGlobals("jitter: 0")).Auth.Services.BackendHealthChecks; h.FastInterval != 0 {
		t.Errorf("default fast_interval = %s, want 0 (off)", h.FastInterval)
	}
	mustParse(t, withGlobals("fast_interval: 0"))   // written 0: off, as jitter's 0
	mustParse(t, withGlobals("fast_interval: 10s")) // equal to the default connect_interval
	mustParse(t, withGlobals("deep_interval: 1m\nfast_interval: 10s"))
}

func TestFastIntervalMailErrors(t *testing.T) {
	const p = "auth.services.backend_health_checks.fast_interval"
	for _, tc := range []struct{ globals, want string }{
		{"fast_interval: -1s", p + ` (line 5): duration "-1s" must not be negative`}, // the decoder's
		{"fast_interval: 500ms", p + " (line 5): must be at least 1s, got 500ms (a backend gets at most one requested probe per second)"},
		{"fast_interval: 1ns", p + " (line 5): must be at least 1s, got 1ns (a backend gets at most one requested probe per second)"},
		{"fast_interval: 11s", p + " (line 5): must be at most connect_interval (10s), got 11s"},
		{"fast_interval: 24h", p + " (line 5): must be at most connect_interval (10s), got 24h0m0s"},
		{"connect_interval: 1m\ndeep_interval: 20s\nfast_interval: 30s", p + " (line 7): must be at most deep_interval (20s), got 30s"},
	} {
		wantOnlyError(t, withGlobals(tc.globals), tc.want)
	}
	// Hostile values are refused by the decoder, each with its key path.
	for _, v := range []string{"x", "[1s]", "{a: b}", "9999999999999999999999h", "'1s; rm -rf /'"} {
		errs := parseErrors(t, withGlobals("fast_interval: "+v))
		if len(errs) == 0 || !strings.HasPrefix(errs[0], p) {
			t.Errorf("fast_interval: %s: errors %q, want one at %s", v, errs, p)
		}
	}
	// A broken interval reports its own error; fast_interval is not
	// compared with it.
	for _, e := range parseErrors(t, withGlobals("connect_interval: 0s\nfast_interval: 5s")) {
		if strings.HasPrefix(e, p) {
			t.Errorf("fast_interval blamed for a broken connect_interval: %s", e)
		}
	}
}

func TestFastIntervalGateway(t *testing.T) {
	h := mustParse(t, healthYAML("interval: 10s\nfast_interval: 2s\n")).Definitions.Backends["api"].Health
	if h.FastInterval != 2*time.Second || h.Interval != 10*time.Second {
		t.Errorf("fast_interval %s interval %s", h.FastInterval, h.Interval)
	}
	if h := mustParse(t, healthYAML("path: /h\n")).Definitions.Backends["api"].Health; h.FastInterval != 0 {
		t.Errorf("default fast_interval = %s, want 0 (off)", h.FastInterval)
	}
	mustParse(t, originsYAML("origins: [http://127.0.0.1:1, http://127.0.0.1:2]\nbeta_health:\n  interval: 5s\n  fast_interval: 1s\n"))

	const p = "definitions.backends.api.beta_health.fast_interval"
	for _, tc := range []struct{ body, want string }{
		{"interval: 10s\nfast_interval: 11s\n", p + " (line 7): must be at most interval (10s), got 11s"},
		// The default interval is Couper's 1s: nothing shorter is allowed.
		{"fast_interval: 2s\n", p + " (line 6): must be at most interval (1s), got 2s"},
		{"interval: 10s\nfast_interval: 100ms\n", p + " (line 7): must be at least 1s, got 100ms (a backend gets at most one requested probe per second)"},
		{"interval: 10s\nfast_interval: -5s\n", p + ` (line 7): duration "-5s" must not be negative`},
	} {
		wantOnlyError(t, healthYAML(tc.body), tc.want)
	}
	for _, v := range []string{"x", "[1s]", "{a: b}"} {
		errs := parseErrors(t, healthYAML("interval: 10s\nfast_interval: "+v+"\n"))
		if len(errs) == 0 || !strings.HasPrefix(errs[0], p) {
			t.Errorf("fast_interval: %s: errors %q, want one at %s", v, errs, p)
		}
	}
}

func TestFastIntervalWarnings(t *testing.T) {
	const p = "auth.services.backend_health_checks.fast_interval"
	for _, tc := range []struct{ yml, want string }{
		{withGlobals("fast_interval: 5s"), p + " (line 5): has no effect with failure_threshold and recovery_threshold 1: every result flips the state at once, so there is never a streak to shorten"},
		{withGlobals("failure_threshold: 3\nfast_interval: 10s"), p + " (line 6): has no effect: it equals the interval (10s)"},
		{healthYAML("interval: 4s\nfast_interval: 4s\n"), "definitions.backends.api.beta_health.fast_interval (line 7): has no effect: it equals the interval (4s)"},
		{healthYAML("interval: 4s\nfast_interval: 1s\nfailure_threshold: 1\n"), "definitions.backends.api.beta_health.fast_interval (line 7): has no effect with failure_threshold and recovery_threshold 1"},
	} {
		if got := strings.Join(mustParse(t, tc.yml).Warnings(), "\n"); !strings.Contains(got, tc.want) {
			t.Errorf("warnings\n%s\nwant %s", got, tc.want)
		}
	}
	for _, yml := range []string{
		withGlobals("failure_threshold: 3\nfast_interval: 5s"),
		withGlobals("recovery_threshold: 2\nfast_interval: 5s"),
		withGlobals("failure_threshold: 3\nconnect_interval: 5s\ndeep_interval: 1m\nfast_interval: 5s"), // shortens the deep checks
		healthYAML("interval: 4s\nfast_interval: 1s\n"),
	} {
		if got := strings.Join(mustParse(t, yml).Warnings(), "\n"); strings.Contains(got, "fast_interval") {
			t.Errorf("unexpected warning for\n%s\n%s", yml, got)
		}
	}
}
