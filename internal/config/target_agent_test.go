package config

import (
	"strings"
	"testing"
	"time"
)

func TestTargetAgentDefaults(t *testing.T) {
	a := firstTarget(t, imapTarget("agent:\n  port: 9999")).Agent
	if a == nil {
		t.Fatal("agent block lost")
	}
	want := TargetAgent{Port: 9999, Interval: DefaultAgentInterval, Timeout: DefaultAgentInterval}
	if *a != want {
		t.Errorf("agent = %+v, want %+v (timeout: connect_timeout 5s capped at the interval)", *a, want)
	}
	a = firstTarget(t, imapTarget("connect_timeout: 1s\nagent:\n  host: '[::1]'\n  port: 1\n  interval: 1m\n  send: \"mbox01\\n\"")).Agent
	want = TargetAgent{Host: "::1", Port: 1, Interval: time.Minute, Timeout: time.Second, Send: "mbox01\n"}
	if *a != want {
		t.Errorf("agent = %+v, want %+v", *a, want)
	}
	if a := firstTarget(t, imapTarget("")).Agent; a != nil {
		t.Errorf("agent without a block: %+v", a)
	}
}

func TestTargetAgentErrors(t *testing.T) {
	ap := "auth.services.backend_health_checks.targets[0].agent."
	tests := []struct{ name, extra, want string }{
		{"port required", "agent:\n  interval: 5s",
			ap + "port (line 9): is required (1..65535): the TCP port the agent listens on"},
		{"port written 0", "agent:\n  port: 0",
			ap + "port (line 10): must be 1..65535, got 0"},
		{"port too big", "agent:\n  port: 70000",
			ap + "port (line 10): must be 1..65535, got 70000"},
		{"interval too short", "agent:\n  port: 1\n  interval: 100ms",
			ap + "interval (line 11): must be 1s..24h, got 100ms (each query is a connection to the agent)"},
		{"timeout above interval", "agent:\n  port: 1\n  interval: 2s\n  timeout: 3s",
			ap + "timeout (line 12): must be at most interval (2s), got 3s"},
		{"timeout zero", "agent:\n  port: 1\n  timeout: 0s",
			ap + "timeout (line 11): must be greater than 0 (leave the key out for the default)"},
		{"bad host", "agent:\n  port: 1\n  host: 'a b'",
			ap + "host (line 11): "},
		{"send too long, value not shown", "agent:\n  port: 1\n  send: " + strings.Repeat("s3cr3t", 200),
			ap + "send (line 11): must be at most 1024 bytes, got 1200"},
		{"unknown key", "agent:\n  port: 1\n  inter: 2s",
			ap + "inter (line 11): "},
		{"empty block", "agent:",
			"auth.services.backend_health_checks.targets[0].agent (line 9): is empty: set at least port (leave the key out for no agent check)"},
		{"null block", "agent: ~",
			"auth.services.backend_health_checks.targets[0].agent (line 9): is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseErrors(t, imapTarget(tt.extra))
			if len(got) != 1 || !strings.HasPrefix(got[0], tt.want) {
				t.Fatalf("errors\n want: %s…\n got: %q", tt.want, got)
			}
			if strings.Contains(got[0], "s3cr3t") {
				t.Errorf("error shows the send value: %s", got[0])
			}
		})
	}
}

func TestGatewayHealthAgent(t *testing.T) {
	h := mustParse(t, healthYAML("interval: 5s\ntimeout: 1s\nagent:\n  port: 9999\n  send: \"api\\n\"\n")).Definitions.Backends["api"].Health
	want := TargetAgent{Port: 9999, Interval: DefaultAgentInterval, Timeout: time.Second, Send: "api\n"}
	if h.Agent == nil || *h.Agent != want {
		t.Fatalf("agent = %+v, want %+v (timeout: beta_health's)", h.Agent, want)
	}
	const p = "definitions.backends.api.beta_health.agent."
	wantOnlyError(t, healthYAML("agent:\n  interval: 5s\n"), p+"port (line 6): is required (1..65535): the TCP port the agent listens on")
	wantOnlyError(t, healthYAML("agent:\n"), "definitions.backends.api.beta_health.agent (line 6): is empty: set at least port (leave the key out for no agent check)")
	wantOnlyError(t, healthYAML("agent:\n  port: 1\n  interval: 2s\n  timeout: 3s\n"), p+"timeout (line 9): must be at most interval (2s), got 3s")
}
