package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Config validation (backline check, serve's start and every reload) runs
// the auth passdb's own passwd-file parser: a file the daemon would refuse
// is refused here, with the key path and line of auth.passdb[].path and the
// file's own line, and never a password field.
func TestPasswdFileContentRefusedAtValidation(t *testing.T) {
	const hash = "{SHA512-CRYPT}$6$salt$V3ryS3cretHash"
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	yml := func(path string) string {
		return "server:\n  address: 127.0.0.1:9080\nauth:\n  passdb:\n    - type: backend_login\n    - type: passwd_file\n      path: " + path + "\n"
	}
	for _, tt := range []struct {
		name, path, want string
	}{
		{"a user listed twice", file("dup", "alice:"+hash+"\n# bob\nbob:"+hash+"\nbob:"+hash+"x\n"),
			`line 4: user "bob" listed twice (first on line 3)`},
		{"a user listed twice in a CRLF file", file("crlf", "bob:"+hash+"\r\nbob:"+hash+"\r\n"),
			`line 2: user "bob" listed twice (first on line 1)`},
		{"an empty user name", file("empty-user", ":"+hash+"\n"), "line 1: empty user name"},
		{"a control character in a user name", file("ctl", "b\x07b:"+hash+"\n"),
			"line 1: the user name has a control character (0x07 at byte 2)"},
		{"a line longer than 1 MiB", file("long", "a:"+hash+strings.Repeat("x", 1<<20)), "line 1: longer than 1 MiB"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantOnlyError(t, yml(tt.path), "auth.passdb[1].path (line 7): passwd-file "+tt.path+" "+tt.want)
			for _, e := range parseErrors(t, yml(tt.path)) {
				if strings.Contains(e, "S3cretHash") {
					t.Errorf("the error quotes a hash: %s", e)
				}
			}
		})
	}
	// Files that are no passwd-file: what os.Open alone let through.
	wantOnlyError(t, yml(dir), "auth.passdb[1].path (line 7): passwd-file "+dir+": a directory, not a regular file")
	wantOnlyError(t, yml("/dev/null"), "auth.passdb[1].path (line 7): passwd-file /dev/null: not a regular file")
	missing := filepath.Join(dir, "missing")
	wantOnlyError(t, yml(missing), "auth.passdb[1].path (line 7): cannot read passwd-file "+missing+": no such file or directory")

	// What the daemon loads, validation accepts: an empty file, a CRLF
	// file, a last line without newline, a non-UTF-8 name, an unusable hash.
	for _, content := range []string{"", "a:" + hash + "\r\nb:{PLAIN}x\r\n", "a:" + hash + "\nb:{PLAIN}x", "m\xfcller:{PLAIN}x\n", "a:{MD5}broken\n"} {
		mustParse(t, yml(file("ok", content)))
	}
}

// --no-secrets checks a file away from the machine that holds the
// passwd-file: a missing one is a warning; one that is there is parsed.
func TestPasswdFileNoSecrets(t *testing.T) {
	dir := t.TempDir()
	cfgFile := func(path string) string {
		p := filepath.Join(dir, "backline.yml")
		yml := "server:\n  address: 127.0.0.1:9080\nauth:\n  passdb:\n    - type: passwd_file\n      path: " + path + "\n"
		if err := os.WriteFile(p, []byte(yml), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	missing := filepath.Join(dir, "missing")
	c, err := LoadWith(cfgFile(missing), LoadOptions{NoSecrets: true})
	if err != nil {
		t.Fatalf("--no-secrets with a missing passwd-file: %v", err)
	}
	if w := strings.Join(c.Warnings(), "\n"); !strings.Contains(w, "auth.passdb[0].path (line 6): cannot read passwd-file "+missing+": no such file or directory") {
		t.Errorf("warnings: %s", w)
	}
	dup := filepath.Join(dir, "dup")
	if err := os.WriteFile(dup, []byte("a:x\na:y\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadWith(cfgFile(dup), LoadOptions{NoSecrets: true}); err == nil || !strings.Contains(err.Error(), `auth.passdb[0].path (line 6): passwd-file `+dup+` line 2: user "a" listed twice`) {
		t.Errorf("--no-secrets with a present, broken passwd-file: %v", err)
	}
}
