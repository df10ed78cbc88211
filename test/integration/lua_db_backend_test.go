package integration

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/backline/backline/internal/testfixture"
)

// TestLuaDBPasswordBackend runs `backline serve` with a Lua passdb that
// reads the fixture's MariaDB through the db module, as Nauthilus's MySQL
// backend.lua does: the right password passes on the JSON and the header
// endpoint (with the row's columns as attributes), a wrong one and an
// unknown user fail, and neither the DSN's password nor the user's reaches
// the log.
func TestLuaDBPasswordBackend(t *testing.T) {
	f := testfixture.Load(t)
	bin := buildBackline(t)
	dir := t.TempDir()
	dbPassword := f.Get("MARIADB_PASSWORD")
	dsn := fmt.Sprintf("%s:%s@tcp(%s)/%s", f.Get("MARIADB_USER"), dbPassword, f.Addr("MARIADB"), f.Get("MARIADB_DATABASE"))
	src, err := os.ReadFile(filepath.Join("testdata", "mysql_backend.lua"))
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "backend.lua")
	writeFile(t, script, strings.ReplaceAll(string(src), "{{DSN}}", dsn))
	writeFile(t, filepath.Join(dir, "api.pw"), "lua-db-api-password\n")
	if err := os.Chmod(filepath.Join(dir, "api.pw"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := fmt.Sprintf(`server:
  address: "%s"
  log_level: info
  api_auth:
    username: api
    password_file: "%s"
auth:
  services:
    enabled: [backend_health_checks]
    backend_health_checks:
      connect_interval: 1s
      failure_threshold: 1
      recovery_threshold: 1
      jitter: 0
      targets:
        - {name: a-imap, protocol: imap, host: 127.0.0.1, port: %d, tls_mode: plain}
  passdb:
    - {type: lua, script_path: "%s"}
  cache:
    ttl: 0s
lua:
  config:
    db:
      allowed_addresses: ["%s"]
      max_open_connections: 4
`, addr, filepath.Join(dir, "api.pw"), f.Port("DOVECOT_A_IMAP"), script, f.Addr("MARIADB"))
	s := serveBackline(t, bin, dir, addr, "api", "lua-db-api-password", cfg, dbPassword, f.AlicePassword, "wrong-"+f.AlicePassword)
	s.waitHealthy("a-imap")

	login := func(user, password string) (int, string) {
		return s.api(http.MethodPost, "/api/v1/auth/json",
			fmt.Sprintf(`{"username":%q,"password":%q,"protocol":"imap","client_ip":"127.0.0.1"}`, user, password))
	}
	code, body := login(f.AliceUser, f.AlicePassword)
	if code != http.StatusOK || !strings.Contains(body, "alice@backline.test") || !strings.Contains(body, `"Alice"`) {
		t.Errorf("alice with her password: %d %s", code, body)
	}
	if code, body := login(f.AliceUser, "wrong-"+f.AlicePassword); code != http.StatusForbidden {
		t.Errorf("alice with a wrong password: %d %s", code, body)
	}
	if code, body := login("nobody-in-the-table", f.AlicePassword); code != http.StatusForbidden {
		t.Errorf("an unknown user: %d %s", code, body)
	}
	// The account name finds the row as well (username = ? OR account = ?).
	if code, body := login(f.AliceUser+"@backline.test", f.AlicePassword); code != http.StatusOK {
		t.Errorf("alice by her account: %d %s", code, body)
	}

	req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/api/v1/auth/header", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("api", "lua-db-api-password")
	for k, v := range map[string]string{"Auth-Method": "plain", "Auth-User": f.User, "Auth-Pass": f.Password,
		"Auth-Protocol": "imap", "Client-IP": "127.0.0.1"} {
		req.Header.Set(k, v)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Auth-Status") != "OK" {
		t.Errorf("header endpoint, %s: %d %s", f.User, resp.StatusCode, resp.Header.Get("Auth-Status"))
	}
}
