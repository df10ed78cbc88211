package main

import (
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
