package main

import (
	"strings"
	"testing"
)

// `check` used to pass a file whose API password was empty, after which
// `curl -u ops:` got in. Now it fails with the key path and line, also when
// the password comes from an empty environment variable.
func TestCheckRefusesEmptyAPIPassword(t *testing.T) {
	t.Setenv("BACKLINE_TEST_EMPTY_API_PASSWORD", "")
	for name, password := range map[string]string{
		"written empty":  `""`,
		"empty variable": `"${BACKLINE_TEST_EMPTY_API_PASSWORD}"`,
	} {
		t.Run(name, func(t *testing.T) {
			path := writeFile(t, "backline.yml", "server:\n  api_auth:\n    username: ops\n    password: "+password+"\n")
			code, _, stderr := backline(t, "check", "--config", path)
			if code != exitFail || !strings.Contains(stderr, "server.api_auth.password (line 4): must not be empty or blank") {
				t.Errorf("check: exit %d, stderr:\n%s", code, stderr)
			}
		})
	}
}
