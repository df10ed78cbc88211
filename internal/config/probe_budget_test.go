package config

import (
	"testing"
	"time"
)

func TestProbeIntervalMinimum(t *testing.T) {
	const p = "auth.services.backend_health_checks."
	tests := []struct{ globals, want string }{
		{"connect_interval: 1ns", p + "connect_interval (line 5): must be at least 1s, got 1ns (each probe is a connection, often a login, to the backend)"},
		{"connect_interval: 999ms", p + "connect_interval (line 5): must be at least 1s, got 999ms (each probe is a connection, often a login, to the backend)"},
		{"deep_interval: 0.5", p + "deep_interval (line 5): must be at least 1s, got 500ms (each probe is a connection, often a login, to the backend)"},
	}
	for _, tt := range tests {
		t.Run(tt.globals, func(t *testing.T) {
			wantOnlyError(t, withGlobals(tt.globals), tt.want)
		})
	}
	h := mustParse(t, withGlobals("connect_interval: 1s\ndeep_interval: 1s")).Auth.Services.BackendHealthChecks
	if h.ConnectInterval != time.Second || h.DeepInterval != time.Second {
		t.Errorf("intervals = %s, %s; want 1s", h.ConnectInterval, h.DeepInterval)
	}
}

func TestProbeTimeoutsFitTheInterval(t *testing.T) {
	const p = "auth.services.backend_health_checks."
	// file has the globals from line 5 on, then one target.
	file := func(globals, target string) string {
		return servicePrefix + indent(globals, 6) + "      targets:\n" +
			indent("- protocol: imap\n  host: 127.0.0.1\n  port: 993\n"+indent(target, 2), 8)
	}
	tests := []struct {
		name, globals, target, want string
	}{
		{"defaults", "", "", ""},
		{"timeouts equal to the interval", "connect_interval: 2s\nconnect_timeout: 1s\ntls_timeout: 1s", "tls: true", ""},
		{"connect timeout beyond the interval",
			"connect_interval: 2s\nconnect_timeout: 3s", "",
			p + "connect_timeout (line 6): connect_timeout (3s) must not exceed connect_interval (2s): a probe must end before the next is due"},
		{"tls counts for implicit TLS",
			"connect_interval: 4s\nconnect_timeout: 3s\ntls_timeout: 2s", "tls: true",
			p + "connect_timeout (line 6): connect_timeout (3s) + tls_timeout (2s) must not exceed connect_interval (4s): a probe must end before the next is due"},
		{"tls does not count without implicit TLS",
			"connect_interval: 4s\nconnect_timeout: 3s\ntls_timeout: 2s", "", ""},
		{"per-target override",
			"connect_interval: 2s\nconnect_timeout: 1s\ntls_timeout: 1s", "tls: true\ntls_timeout: 1500ms",
			p + "targets[0].tls_timeout (line 13): connect_timeout (1s) + tls_timeout (1.5s) must not exceed connect_interval (2s): a probe must end before the next is due"},
		{"deep timeout beyond the deep interval",
			"deep_interval: 3s\ndeep_timeout: 4s", "tls: true\ndeep_check: true",
			p + "deep_timeout (line 6): deep_timeout (4s) must not exceed deep_interval (3s): a probe must end before the next is due"},
		{"per-target deep timeout",
			"deep_interval: 3s", "tls: true\ndeep_check: true\ndeep_timeout: 4s",
			p + "targets[0].deep_timeout (line 12): deep_timeout (4s) must not exceed deep_interval (3s): a probe must end before the next is due"},
		{"deep timeout unused without deep_check", "deep_interval: 3s\ndeep_timeout: 4s", "tls: true", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			yml := file(tt.globals, tt.target)
			if tt.want == "" {
				mustParse(t, yml)
				return
			}
			wantOnlyError(t, yml, tt.want)
		})
	}
}

func TestProbeTimeoutGlobalErrorReportedOnce(t *testing.T) {
	yml := withGlobals("connect_interval: 2s\nconnect_timeout: 3s\ntargets:\n" + indent(`- {protocol: imap, host: 127.0.0.1, port: 143}
- {protocol: imap, host: 127.0.0.2, port: 143}
`, 2))
	got := parseErrors(t, yml)
	if len(got) != 1 {
		t.Errorf("errors = %q, want one", got)
	}
}

func TestDefaultTimeoutsShrinkWithShortIntervals(t *testing.T) {
	// Left-out timeouts follow a short interval (as HAProxy's check timeout
	// follows inter) instead of turning a file that names only an interval
	// into an error.
	h := mustParse(t, withGlobals("connect_interval: 2s\ndeep_interval: 1s\ntargets:\n"+
		indent("- {protocol: imap, host: 127.0.0.1, port: 993, tls: true, deep_check: true, test_username: u, test_password: p}\n", 2))).Auth.Services.BackendHealthChecks
	tg := h.Targets[0]
	if h.ConnectTimeout != time.Second || h.TLSTimeout != time.Second || h.DeepTimeout != time.Second {
		t.Errorf("global timeouts = %s %s %s; want 1s 1s 1s", h.ConnectTimeout, h.TLSTimeout, h.DeepTimeout)
	}
	if tg.ConnectTimeout != time.Second || tg.TLSTimeout != time.Second || tg.DeepTimeout != time.Second {
		t.Errorf("target timeouts = %s %s %s; want 1s 1s 1s", tg.ConnectTimeout, tg.TLSTimeout, tg.DeepTimeout)
	}
}

func TestGatewayHealthIntervalMinimum(t *testing.T) {
	yml := func(interval string) string {
		return "definitions:\n  backends:\n    web:\n      origin: http://127.0.0.1:8080\n      beta_health:\n        interval: " + interval + "\n"
	}
	wantOnlyError(t, yml("1ns"), "definitions.backends.web.beta_health.interval (line 6): must be at least 100ms, got 1ns")
	wantOnlyError(t, yml("0s"), "definitions.backends.web.beta_health.interval (line 6): must be at least 100ms, got 0s")
	if got := mustParse(t, yml("100ms")).Definitions.Backends["web"].Health.Interval; got != 100*time.Millisecond {
		t.Errorf("interval = %s", got)
	}
}
