package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const migrateTestdata = "../../internal/migrate/testdata/"

// The command prints the converted file (the golden copy) on stdout and the
// report plus a summary on stderr, exit 0.
func TestMigrateNauthilusCommand(t *testing.T) {
	for _, base := range []string{"nauthilus-1x", "nauthilus-3x"} {
		code, stdout, stderr := backline(t, "migrate", "nauthilus", migrateTestdata+base+".yml")
		want, err := os.ReadFile(migrateTestdata + base + ".out.yml")
		if err != nil {
			t.Fatal(err)
		}
		notes, err := os.ReadFile(migrateTestdata + base + ".notes.txt")
		if err != nil {
			t.Fatal(err)
		}
		if code != exitOK || stdout != string(want) {
			t.Errorf("%s: exit %d, stdout:\n%s", base, code, stdout)
		}
		if !strings.HasPrefix(stderr, string(notes)) || !strings.Contains(stderr, "keys dropped") {
			t.Errorf("%s: stderr:\n%s", base, stderr)
		}
	}
}

// The converted 1.x file passes `backline check --no-secrets` (its
// variables exist only in production).
func TestMigrateOutputPassesCheckCommand(t *testing.T) {
	out := filepath.Join(t.TempDir(), "backline.yml")
	// The file names its Lua scripts relative to internal/migrate.
	wd, _ := os.Getwd()
	t.Chdir(filepath.Join(wd, migrateTestdata, ".."))
	code, _, stderr := backline(t, "migrate", "nauthilus", "--output", out, "testdata/nauthilus-1x.yml")
	if code != exitOK {
		t.Fatalf("migrate: exit %d %s", code, stderr)
	}
	st, err := os.Stat(out)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("output file: %v %v", st, err)
	}
	code, stdout, stderr := backline(t, "check", "--no-secrets", "--config", out)
	if code != exitOK || !strings.HasPrefix(stdout, "configuration OK: 5 targets") {
		t.Fatalf("check: exit %d\n%s\n%s", code, stdout, stderr)
	}
}

func TestMigrateCommandErrors(t *testing.T) {
	dir := t.TempDir()
	notYAML := filepath.Join(dir, "broken.yml")
	os.WriteFile(notYAML, []byte("server:\n  address: [\n"), 0o600)
	big := filepath.Join(dir, "big.yml")
	os.WriteFile(big, bytes.Repeat([]byte("#"), 2<<20), 0o600)
	input := filepath.Join(dir, "nauthilus.yml")
	os.WriteFile(input, []byte("server: {address: 127.0.0.1:9080}\n"), 0o600)

	cases := []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"migrate"}, exitUsage, "backline migrate nauthilus FILE"},
		{[]string{"migrate", "dovecot", "x"}, exitUsage, "backline migrate nauthilus FILE"},
		{[]string{"migrate", "nauthilus"}, exitUsage, "exactly one FILE"},
		{[]string{"migrate", "nauthilus", "a", "b"}, exitUsage, "exactly one FILE"},
		{[]string{"migrate", "nauthilus", "--bogus", "a"}, exitUsage, "Usage: backline migrate nauthilus"},
		{[]string{"migrate", "nauthilus", filepath.Join(dir, "missing.yml")}, exitFail, "no such file"},
		{[]string{"migrate", "nauthilus", dir}, exitFail, "not a regular file"},
		{[]string{"migrate", "nauthilus", notYAML}, exitFail, "(yaml syntax) (line 3)"},
		{[]string{"migrate", "nauthilus", big}, exitFail, "larger than 1024 KiB"},
		{[]string{"migrate", "nauthilus", input, "--output", input}, exitFail, "would overwrite the Nauthilus file"},
	}
	for _, tc := range cases {
		code, stdout, stderr := backline(t, tc.args...)
		if code != tc.code || stdout != "" || !strings.Contains(stderr, tc.stderr) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", tc.args, code, stdout, stderr)
		}
	}
	if data, _ := os.ReadFile(input); string(data) != "server: {address: 127.0.0.1:9080}\n" {
		t.Errorf("the input was overwritten: %q", data)
	}
}

// FILE - reads standard input.
func TestMigrateReadsStdin(t *testing.T) {
	var out, errOut bytes.Buffer
	code := runMigrate([]string{"nauthilus", "-"}, strings.NewReader("runtime:\n  servers:\n    http:\n      address: 127.0.0.1:9081\n"), &out, &errOut)
	if code != exitOK || !strings.Contains(out.String(), "address: 127.0.0.1:9081") {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errOut.String())
	}
}

// `backline check` on an unconverted Nauthilus file points to the
// converter once, not on each of its unknown keys.
func TestCheckNauthilusFileHintsOnce(t *testing.T) {
	code, _, stderr := backline(t, "check", "--no-secrets", "--config", migrateTestdata+"nauthilus-1x.yml")
	if code != exitFail || strings.Count(stderr, "backline migrate nauthilus FILE") != 1 ||
		!strings.Contains(stderr, "server.log (line 9): unknown key") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
}
