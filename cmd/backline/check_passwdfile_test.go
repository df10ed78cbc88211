package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backline/backline/internal/config"
)

// backline check refuses exactly the passwd-files serve refuses (operators
// run check before a reload): for each hostile file, check's verdict is
// that of the auth handler serve builds, and check's error names the key
// path and line of auth.passdb[].path and the file's own line, without a
// password field.
func TestCheckRefusesWhatServeRefusesInPasswdFile(t *testing.T) {
	const hash = "{SHA512-CRYPT}$6$salt$Sup3rS3cretHash"
	for _, tt := range []struct {
		name string
		// set makes path the file under test.
		set  func(t *testing.T, path string)
		want string // in check's stderr; "" for a file both accept
	}{
		{"a user listed twice", passwdContent("# users\nbob:" + hash + "\nalice:" + hash + "\nbob:" + hash + "\n"),
			`line 4: user "bob" listed twice (first on line 2)`},
		{"a user listed twice, CRLF", passwdContent("bob:" + hash + "\r\nbob:" + hash + "\r\n"),
			`line 2: user "bob" listed twice (first on line 1)`},
		{"an empty user name", passwdContent("a:{PLAIN}x\n:" + hash + "\n"), "line 2: empty user name"},
		{"a control character in a user name", passwdContent("b\x1bb:" + hash + "\n"),
			"line 1: the user name has a control character (0x1b at byte 2)"},
		{"a line longer than 1 MiB", passwdContent("a:" + hash + strings.Repeat("x", 1<<20) + "\n"), "line 1: longer than 1 MiB"},
		{"a directory", func(t *testing.T, path string) {
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
		}, ": a directory, not a regular file"},
		{"a missing file", func(*testing.T, string) {}, "/users: no such file or directory"},
		// Root reads a mode 000 file: then both accept it, which is agreement too.
		{"an unreadable file", func(t *testing.T, path string) {
			passwdContent("a:"+hash+"\n")(t, path)
			if err := os.Chmod(path, 0); err != nil {
				t.Fatal(err)
			}
		}, map[bool]string{true: "", false: "permission denied"}[os.Geteuid() == 0]},
		{"an empty file", passwdContent(""), ""},
		{"a CRLF file", passwdContent("a:" + hash + "\r\nb:{PLAIN}x\r\n"), ""},
		{"a truncated last line", passwdContent("a:" + hash + "\nb:{SHA512-CRYPT}$6$sa"), ""},
		{"a non-UTF-8 user name", passwdContent("m\xfcller:" + hash + "\n"), ""},
		{"control characters in a password field", passwdContent("a:{PLAIN}x\x01\x7fy\n"), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			users := filepath.Join(dir, "users")
			cfgPath := filepath.Join(dir, "backline.yml")
			yml := "server:\n  address: 127.0.0.1:9080\nauth:\n  services:\n    enabled: []\n  passdb:\n    - type: passwd_file\n      path: " + users + "\n"
			if err := os.WriteFile(cfgPath, []byte(yml), 0o600); err != nil {
				t.Fatal(err)
			}
			// serve's configuration, loaded while the file was good.
			passwdContent("a:{PLAIN}x\n")(t, users)
			cfg, err := config.Load(cfgPath)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(users); err != nil {
				t.Fatal(err)
			}
			tt.set(t, users)

			code, _, stderr := backline(t, "check", "--config", cfgPath)
			_, engine, serveErr := extraMounts(cfg, adminEngine(t), passChecker{}, prometheus.NewRegistry(), slog.New(slog.DiscardHandler), nil, nil, nil)
			if engine != nil {
				engine.Close()
			}
			if (code == exitOK) != (serveErr == nil) {
				t.Fatalf("check exit %d, serve: %v\ncheck's stderr:\n%s", code, serveErr, stderr)
			}
			if tt.want == "" {
				if code != exitOK {
					t.Fatalf("check exit %d:\n%s", code, stderr)
				}
				return
			}
			if code != exitFail || !strings.Contains(stderr, "auth.passdb[0].path (line 8): ") || !strings.Contains(stderr, tt.want) {
				t.Errorf("check exit %d, stderr:\n%s\nwant auth.passdb[0].path (line 8) and %q", code, stderr, tt.want)
			}
			// serve says the same, with the same key path and line.
			if got := serveErr.Error(); !strings.Contains(stderr, got) {
				t.Errorf("serve's error %q is not check's:\n%s", got, stderr)
			}
			if strings.Contains(stderr, "S3cretHash") || strings.Contains(serveErr.Error(), "S3cretHash") {
				t.Errorf("an error quotes a hash:\n%s\n%v", stderr, serveErr)
			}
		})
	}
}

func passwdContent(s string) func(*testing.T, string) {
	return func(t *testing.T, path string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
