package config

import "testing"

func TestConnectCheckEffectiveValue(t *testing.T) {
	tests := []struct {
		name, yml, want string
	}{
		{"default for mail", imapTarget(""), ConnectCheckGreeting},
		{"target tcp", imapTarget("connect_check: tcp"), ConnectCheckTCP},
		{"target spelled loosely", imapTarget("connect_check: ' TCP '"), ConnectCheckTCP},
		{"service tcp inherited", withGlobals("connect_check: tcp\ntargets:\n  - protocol: smtp\n    host: 127.0.0.1\n    port: 25"), ConnectCheckTCP},
		{"target overrides service", withGlobals("connect_check: tcp\ntargets:\n  - protocol: pop3\n    host: 127.0.0.1\n    port: 110\n    connect_check: greeting"), ConnectCheckGreeting},
		{"http is always tcp", target("http", "127.0.0.1", 80, ""), ConnectCheckTCP},
		{"http tcp written", target("http", "127.0.0.1", 80, "connect_check: tcp"), ConnectCheckTCP},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := firstTarget(t, tt.yml).ConnectCheck; got != tt.want {
				t.Errorf("connect_check = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestConnectCheckErrors(t *testing.T) {
	tp := "auth.services.backend_health_checks.targets[0]."
	tests := []struct{ name, yml, want string }{
		{"unknown target value", imapTarget("connect_check: quit"),
			tp + `connect_check (line 9): must be greeting or tcp, got "quit"`},
		{"greeting on http", target("http", "127.0.0.1", 80, "connect_check: greeting"),
			tp + "connect_check (line 9): http has no greeting: its connect-only check sends nothing and closes (use tcp, or deep_check for a request)"},
		{"unknown service value", withGlobals("connect_check: banner\ntargets:\n  - protocol: imap\n    host: 127.0.0.1\n    port: 143"),
			`auth.services.backend_health_checks.connect_check (line 5): must be greeting or tcp, got "banner"`},
		{"control characters", imapTarget("connect_check: \"tcp\\r\\nQUIT\""),
			tp + `connect_check (line 9): must be greeting or tcp, got "tcp\r\nquit"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantOnlyError(t, tt.yml, tt.want) })
	}
}
