package config

import (
	"strings"
	"testing"
)

// Review (branch h-agent): agent block errors carry key path and line,
// and never quote send, also when send has the wrong type or the block
// sits under beta_health.
func TestReviewAgentConfigErrors(t *testing.T) {
	ap := "auth.services.backend_health_checks.targets[0].agent."
	gp := "definitions.backends.api.beta_health.agent."
	tests := []struct{ name, yml, want string }{
		{"send a list", imapTarget("agent:\n  port: 1\n  send: [s3cr3t-tok]"), ap + "send (line 11): "},
		{"send a map", imapTarget("agent:\n  port: 1\n  send: {s3cr3t-tok: 1}"), ap + "send (line 11): "},
		{"port a word", imapTarget("agent:\n  port: nine\n  send: s3cr3t-tok"), ap + "port (line 10): "},
		{"port negative", imapTarget("agent:\n  port: -1\n  send: s3cr3t-tok"), ap + "port (line 10): must be 1..65535, got -1"},
		{"interval a word", imapTarget("agent:\n  port: 1\n  interval: soon\n  send: s3cr3t-tok"), ap + "interval (line 11): "},
		{"agent a list", imapTarget("agent: [s3cr3t-tok]"), "auth.services.backend_health_checks.targets[0].agent (line 9): "},
		{"gateway send too long", healthYAML("agent:\n  port: 1\n  send: " + strings.Repeat("s3cr3t-tok", 103) + "\n"), gp + "send (line 8): must be at most 1024 bytes, got 1030"},
		{"gateway interval too long", healthYAML("agent:\n  port: 1\n  interval: 25h\n"), gp + "interval (line 8): must be 1s..24h"},
		{"gateway timeout zero", healthYAML("agent:\n  port: 1\n  timeout: 0s\n"), gp + "timeout (line 8): must be greater than 0"},
		{"gateway unknown key", healthYAML("agent:\n  port: 1\n  adress: x\n"), gp + "adress (line 8): "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseErrors(t, tt.yml)
			if len(got) != 1 || !strings.HasPrefix(got[0], tt.want) {
				t.Errorf("errors\n want: %s…\n got: %q", tt.want, got)
			}
			for _, e := range got {
				if strings.Contains(e, "s3cr3t") {
					t.Errorf("error shows the send value: %s", e)
				}
			}
		})
	}
}
