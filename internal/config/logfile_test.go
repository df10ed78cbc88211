package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func logFileYAML(serverFile, accessFile string) string {
	y := "server:\n  log_file: " + serverFile + "\n"
	if accessFile != "" {
		y += "gateway:\n  address: 127.0.0.1:9081\n  access_log_file: " + accessFile + "\n"
	}
	return y
}

func TestLogFileKeys(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "backline.log")
	if err := os.WriteFile(existing, []byte("kept\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	access := filepath.Join(dir, "access.log")
	c := mustParse(t, logFileYAML(existing, access))
	if c.Server.LogFile != existing || c.Gateway.AccessLogFile != access {
		t.Errorf("got %q %q", c.Server.LogFile, c.Gateway.AccessLogFile)
	}
	// Checking neither writes to a file nor leaves one behind.
	if data, _ := os.ReadFile(existing); string(data) != "kept\n" {
		t.Errorf("the existing file changed: %q", data)
	}
	if _, err := os.Stat(access); !os.IsNotExist(err) {
		t.Errorf("the check left %s behind (%v)", access, err)
	}
	if c := mustParse(t, "server:\n  address: 127.0.0.1:9080\n"); c.Server.LogFile != "" || c.Gateway.AccessLogFile != "" {
		t.Errorf("defaults: %q %q", c.Server.LogFile, c.Gateway.AccessLogFile)
	}
}

func TestLogFileErrors(t *testing.T) {
	dir := t.TempDir()
	notDir := filepath.Join(dir, "plain")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ yml, want string }{
		{logFileYAML(dir, ""), `server.log_file (line 2): "` + dir + `" is a directory; name a file in it`},
		{logFileYAML(dir+"/", ""), `server.log_file (line 2): must name a file, not a directory: "` + dir + `/"`},
		{logFileYAML("backline.log", ""), `server.log_file (line 2): must be an absolute path, got "backline.log"`},
		{logFileYAML(`"/tmp/a\nb"`, ""), "server.log_file (line 2): must not contain NUL or line breaks"},
		{logFileYAML(`"/tmp/a\u0000b"`, ""), "server.log_file (line 2): must not contain NUL or line breaks"},
		{logFileYAML(dir+"/missing/backline.log", ""), "server.log_file (line 2): stat " + dir + "/missing: no such file or directory"},
		{logFileYAML(notDir+"/backline.log", ""), "server.log_file (line 2): stat " + notDir + "/backline.log: not a directory"},
		{logFileYAML(dir+"/a.log", dir), `gateway.access_log_file (line 5): "` + dir + `" is a directory; name a file in it`},
		{logFileYAML(dir+"/a.log", dir+"/./a.log"), "gateway.access_log_file (line 5): is server.log_file; leave it out to write the access lines to the daemon log"},
	} {
		wantError(t, c.yml, c.want)
	}
}

// A file the daemon could not append to: refused at check time, not when
// serve starts with no log. Root may write anywhere.
func TestLogFileUnwritable(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root writes to read-only files")
	}
	dir := t.TempDir()
	ro := filepath.Join(dir, "ro.log")
	if err := os.WriteFile(ro, nil, 0o440); err != nil {
		t.Fatal(err)
	}
	wantError(t, logFileYAML(ro, ""), "server.log_file (line 2): open "+ro+": permission denied")
	roDir := filepath.Join(dir, "rodir")
	if err := os.Mkdir(roDir, 0o550); err != nil {
		t.Fatal(err)
	}
	wantError(t, logFileYAML(roDir+"/new.log", ""), "server.log_file (line 2): open "+roDir+"/new.log: permission denied")
}

// check --no-secrets runs away from the machine: a directory that exists
// only there is a warning; a directory named as the file stays an error.
func TestLogFileNoSecrets(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "backline.yml")
	write := func(yml string) {
		if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(logFileYAML("/nonexistent-backline-dir/backline.log", ""))
	c, err := LoadWith(path, LoadOptions{NoSecrets: true})
	if err != nil {
		t.Fatal(err)
	}
	if w := strings.Join(c.Warnings(), "\n"); !strings.Contains(w, "server.log_file (line 2): stat /nonexistent-backline-dir: no such file or directory (--no-secrets") {
		t.Errorf("warnings: %s", w)
	}
	write(logFileYAML(dir, ""))
	if _, err := LoadWith(path, LoadOptions{NoSecrets: true}); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("a directory under --no-secrets: %v", err)
	}
}

func TestAccessLogFileWarnings(t *testing.T) {
	access := filepath.Join(t.TempDir(), "access.log")
	for _, c := range []struct{ yml, want string }{
		{"gateway:\n  access_log_file: " + access + "\n", "gateway.access_log_file (line 2): stays empty: there is no gateway without gateway.address"},
		{"gateway:\n  address: 127.0.0.1:9081\n  access_log: false\n  access_log_file: " + access + "\n", "gateway.access_log_file (line 4): stays empty: gateway.access_log is false"},
	} {
		if w := strings.Join(mustParse(t, c.yml).Warnings(), "\n"); !strings.Contains(w, c.want) {
			t.Errorf("%q: warnings %q", c.yml, w)
		}
	}
}
