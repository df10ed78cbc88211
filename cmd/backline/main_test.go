package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/backline/backline/internal/testutil"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if code, ok := runAsDaemonSubprocess(); ok {
		os.Exit(code)
	}
	goleak.VerifyTestMain(m)
}

type syncBuffer = testutil.LogBuffer

// backline runs a subcommand in-process.
func backline(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut syncBuffer
	code = dispatch(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{nil, exitUsage, "Usage: backline <command>"},
		{[]string{"frobnicate"}, exitUsage, `unknown command "frobnicate"`},
		{[]string{"lua"}, exitUsage, "Usage: backline lua test"},
		{[]string{"check"}, exitUsage, "--config FILE is required"},
		{[]string{"serve"}, exitUsage, "--config FILE is required"},
		{[]string{"check", "--nope"}, exitUsage, "flag provided but not defined: -nope"},
		{[]string{"check", "--config", "x.yml", "extra"}, exitUsage, `unexpected argument "extra"`},
	} {
		code, _, stderr := backline(t, c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("backline %q: exit %d, stderr %q; want exit %d and %q", c.args, code, stderr, c.code, c.want)
		}
	}
	code, stdout, _ := backline(t, "help")
	if code != exitOK || !strings.Contains(stdout, "probe ") || !strings.Contains(stdout, "completion bash|zsh|fish") {
		t.Errorf("help: exit %d %q", code, stdout)
	}
}

func TestVersion(t *testing.T) {
	code, stdout, _ := backline(t, "version")
	if code != exitOK || !strings.HasPrefix(stdout, "backline ") || !strings.Contains(stdout, "go1.") {
		t.Errorf("version: exit %d %q", code, stdout)
	}
	version = "v1.2.3-test"
	defer func() { version = "" }()
	if _, stdout, _ := backline(t, "version"); !strings.HasPrefix(stdout, "backline v1.2.3-test go") {
		t.Errorf("version with -ldflags: %q", stdout)
	}
}
