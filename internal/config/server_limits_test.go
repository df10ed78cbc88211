package config

import (
	"path/filepath"
	"strings"
	"testing"
)

// An empty API secret must not load: with an empty password, `curl -u ops:`
// would get in; with an empty token, the API would silently be open.
func TestAPIAuthRefusesEmptySecrets(t *testing.T) {
	t.Setenv("BACKLINE_TEST_EMPTY_SECRET", "")
	emptyFile := filepath.Join(t.TempDir(), "empty")
	writeFile(t, emptyFile, "\n")
	tests := []struct {
		name, apiAuth, want string
	}{
		{"empty password", "{username: ops, password: ''}",
			"server.api_auth.password (line 2): must not be empty or blank"},
		{"blank password", "{username: ops, password: '   '}",
			"server.api_auth.password (line 2): must not be empty or blank"},
		{"empty variable", "{username: ops, password: '${BACKLINE_TEST_EMPTY_SECRET}'}",
			"server.api_auth.password (line 2): must not be empty or blank"},
		{"empty password without user", "{password: ''}",
			"server.api_auth.password (line 2): must not be empty or blank"},
		{"empty password file", "{username: ops, password_file: '" + emptyFile + "'}",
			`server.api_auth.password_file (line 2): file "` + emptyFile + `" is empty`},
		{"empty token", "{bearer_token: ''}",
			"server.api_auth.bearer_token (line 2): must not be empty or blank"},
		{"empty token variable", "{bearer_token: '${BACKLINE_TEST_EMPTY_SECRET}'}",
			"server.api_auth.bearer_token (line 2): must not be empty or blank"},
		{"empty token next to a password", "{username: ops, password: p, bearer_token: ''}",
			"server.api_auth.bearer_token (line 2): must not be empty or blank"},
		{"empty user variable", "{username: '${BACKLINE_TEST_EMPTY_SECRET}', password: p}",
			"server.api_auth.username (line 2): is required when a password is set"},
		{"blank token", "{bearer_token: \"\\t\"}",
			"server.api_auth.bearer_token (line 2): must not be empty or blank"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantOnlyError(t, "server:\n  api_auth: "+tt.apiAuth+"\n", tt.want)
		})
	}
}

func TestAPIAuthPublicMetrics(t *testing.T) {
	c := mustParse(t, "server:\n  api_auth:\n    bearer_token: t\n    public_metrics: true\n")
	if !c.Server.APIAuth.PublicMetrics {
		t.Error("public_metrics: true not read")
	}
	if mustParse(t, "server:\n  api_auth: {bearer_token: t}\n").Server.APIAuth.PublicMetrics {
		t.Error("metrics are public by default")
	}
	wantOnlyError(t, "server:\n  api_auth:\n    public_metrics: true\n",
		"server.api_auth.public_metrics (line 3): only means something with credentials (username and password, or bearer_token)")
}

func TestListenerConnectionLimits(t *testing.T) {
	c := mustParse(t, "server:\n  max_connections: 100\ngateway:\n  address: 127.0.0.1:8080\n  max_connections: 200\n")
	if c.Server.MaxConnections != 100 || c.Gateway.MaxConnections != 200 {
		t.Errorf("max_connections = %d, %d; want 100, 200", c.Server.MaxConnections, c.Gateway.MaxConnections)
	}
	if c := mustParse(t, "server: {}\n"); c.Server.MaxConnections != 0 || c.Gateway.MaxConnections != 0 {
		t.Errorf("left out: %d, %d; want 0 (derived at start-up)", c.Server.MaxConnections, c.Gateway.MaxConnections)
	}
	for _, tt := range []struct{ yml, want string }{
		{"server:\n  max_connections: 0\n", "server.max_connections (line 2): must be 1..1000000, got 0 (leave the key out for the default)"},
		{"server:\n  max_connections: -5\n", "server.max_connections (line 2): must be 1..1000000, got -5 (leave the key out for the default)"},
		{"server:\n  max_connections: 1000001\n", "server.max_connections (line 2): must be 1..1000000, got 1000001 (leave the key out for the default)"},
		{"gateway:\n  address: 127.0.0.1:8080\n  max_connections: 0\n", "gateway.max_connections (line 3): must be 1..1000000, got 0 (leave the key out for the default)"},
		{"server:\n  max_connections: lots\n", `server.max_connections (line 2): must be a whole number, got "lots"`},
		{"server:\n  max_connections: 1e9\n", `server.max_connections (line 2): must be a whole number, got "1e9"`},
		{"server:\n  max_connections: 99999999999999999999\n", `server.max_connections (line 2): must be a whole number, got "99999999999999999999"`},
		{"server:\n  api_auth: {bearer_token: t, public_metrics: maybe}\n", `server.api_auth.public_metrics (line 2): must be true or false, got "maybe"`},
	} {
		wantOnlyError(t, tt.yml, tt.want)
	}
}

func TestServerUnknownKeyListsNewKeys(t *testing.T) {
	got := strings.Join(parseErrors(t, "server:\n  listen: x\n"), "\n")
	if !strings.Contains(got, "known keys: address, api_auth, log_file, log_format, log_level, max_connections") {
		t.Errorf("got %s", got)
	}
}
