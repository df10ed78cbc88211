package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadServerReadsOnlyTheServerSection(t *testing.T) {
	write := func(content string) string {
		p := filepath.Join(t.TempDir(), "b.yml")
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// Other sections may use variables that are not set, or be invalid.
	p := write("x-anchors:\n  user: &u ops\nserver:\n  address: 127.0.0.1:9191\n  api_auth:\n    username: *u\n    password: pw\n" +
		"auth:\n  services:\n    enabled: [nonsense]\n    backend_health_checks:\n      targets:\n        - test_password: ${BACKLINE_SURELY_UNSET_VAR}\n")
	cfg, err := LoadServer(p)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Address != "127.0.0.1:9191" || cfg.Server.APIAuth.Username != "ops" || cfg.Server.APIAuth.Password != "pw" {
		t.Errorf("server section: %+v", cfg.Server)
	}
	if _, err := Load(p); err == nil {
		t.Error("Load accepted the file (the test needs it invalid elsewhere)")
	}
	for name, content := range map[string]string{
		"server error":    "server:\n  address: nowhere\n",
		"syntax error":    "server:\n  address: 127.0.0.1:1\nauth: [\n",
		"empty password":  "server:\n  api_auth:\n    username: ops\n    password: \"\"\n",
		"server twice":    "server:\n  address: 127.0.0.1:1\nserver:\n  address: 127.0.0.1:2\n",
		"not a mapping":   "- server\n",
		"unset in server": "server:\n  api_auth:\n    username: ops\n    password: ${BACKLINE_SURELY_UNSET_VAR}\n",
	} {
		if _, err := LoadServer(write(content)); err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), "panic") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if cfg, err := LoadServer(write("")); err != nil || cfg.Server.Address == "" {
		t.Errorf("empty file: %v %+v", err, cfg)
	}
}
