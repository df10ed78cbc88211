package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An operator rotates the API password in the file and runs
// `ctl --config FILE reload`: ctl sends the new password, the daemon still
// checks the old one. The 401 must say why and how to get out of it.
func TestCtlReloadAfterPasswordChangeExplainsThe401(t *testing.T) {
	auth := func(pw string) string { return "info\n  api_auth:\n    username: ops\n    password: " + pw }
	f := startReloadFixture(t, fileVersion{filterPort: 1143, origin: "a", logLevel: auth("old-api-pw")})
	f.write(fileVersion{filterPort: 1143, origin: "a", logLevel: auth("new-api-pw")})
	code, stdout, stderr := backline(t, "ctl", "--api", "http://"+f.api, "--config", f.path, "reload")
	if code != exitFail {
		t.Fatalf("exit %d, want 1\n%s%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "401") || !strings.Contains(stderr, "SIGHUP") {
		t.Errorf("the 401 does not point at the credential change:\n%s", stderr)
	}
	if strings.Contains(stdout+stderr, "new-api-pw") || strings.Contains(stdout+stderr, "old-api-pw") {
		t.Errorf("a password was printed:\n%s%s", stdout, stderr)
	}
}

// The daemon's file often takes its secrets from the service's environment
// (${IMAP_PW} from systemd's EnvironmentFile). ctl needs server.address and
// server.api_auth only; a variable that only a health check uses must not
// make `ctl --config FILE` fail, or the operator exports the daemon's
// secrets into an interactive shell to run it.
func TestCtlConfigNeedsOnlyTheServerSection(t *testing.T) {
	t.Setenv("BACKLINE_TEST_CTL_API_PW", "ctl-api-pw")
	f := startReloadFixture(t, fileVersion{filterPort: 1143, origin: "a",
		logLevel: "info\n  api_auth:\n    username: ops\n    password: ${BACKLINE_TEST_CTL_API_PW}"})
	dir := t.TempDir()
	file := writeFileIn(t, dir, "ctl.yml", "server:\n  address: "+f.api+"\n  api_auth:\n    username: ops\n"+
		"    password: ${BACKLINE_TEST_CTL_API_PW}\n"+
		"auth:\n  services:\n    enabled: [backend_health_checks]\n    backend_health_checks:\n      targets:\n"+
		"        - name: m1\n          protocol: imap\n          host: 127.0.0.1\n          port: 1\n"+
		"          deep_check: true\n          allow_plaintext_auth: true\n          test_username: u\n"+
		"          test_password: ${BACKLINE_TEST_CTL_UNSET_PW}\n")
	code, stdout, stderr := backline(t, "ctl", "--config", file, "list")
	if strings.Contains(stderr, "BACKLINE_TEST_CTL_UNSET_PW") || code != exitOK {
		t.Errorf("ctl --config failed on a variable it does not need: exit %d\n%s%s", code, stdout, stderr)
	}
	// A variable ctl does need is still an error.
	t.Setenv("BACKLINE_TEST_CTL_API_PW", "")
	os.Unsetenv("BACKLINE_TEST_CTL_API_PW")
	code, _, stderr = backline(t, "ctl", "--config", file, "list")
	if code == exitOK || !strings.Contains(stderr, "server.api_auth.password") {
		t.Errorf("unset API password variable: exit %d\n%s", code, stderr)
	}
}

func writeFileIn(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
