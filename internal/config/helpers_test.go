package config

import (
	"errors"
	"strings"
	"testing"
)

// servicePrefix puts what follows on line 5 (globals, indented 6) and the
// first target's first key on line 6 (see withTargets).
const servicePrefix = `auth:
  services:
    enabled: [backend_health_checks]
    backend_health_checks:
`

// withGlobals returns a file whose backend_health_checks block is body; the
// first line of body is line 5.
func withGlobals(body string) string {
	return servicePrefix + indent(body, 6)
}

// withTargets returns a file whose targets list is body; the first line of
// body is line 6.
func withTargets(body string) string {
	return servicePrefix + "      targets:\n" + indent(body, 8)
}

func indent(body string, n int) string {
	pad := strings.Repeat(" ", n)
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimRight(body, "\n"), "\n") {
		if line != "" {
			b.WriteString(pad)
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String()
}

// mustParse fails the test on any error.
func mustParse(t *testing.T, yml string) *Config {
	t.Helper()
	c, err := Parse([]byte(yml))
	if err != nil {
		t.Fatalf("Parse failed:\n%v\ninput:\n%s", err, yml)
	}
	return c
}

// parseErrors returns the error lines of a file that must not load.
func parseErrors(t *testing.T, yml string) []string {
	t.Helper()
	c, err := Parse([]byte(yml))
	if err == nil {
		t.Fatalf("Parse succeeded, want an error; input:\n%s", yml)
	}
	if c != nil {
		t.Errorf("Parse returned a config together with an error")
	}
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("error is %T, want config.Errors: %v", err, err)
	}
	out := make([]string, len(errs))
	for i, e := range errs {
		out[i] = e.Error()
	}
	return out
}

// wantError checks that want is one of the reported errors, exactly.
func wantError(t *testing.T, yml, want string) {
	t.Helper()
	got := parseErrors(t, yml)
	for _, g := range got {
		if g == want {
			return
		}
	}
	t.Errorf("missing error\n want: %s\n got:\n  %s\ninput:\n%s", want, strings.Join(got, "\n  "), yml)
}

// wantOnlyError checks that want is the only reported error.
func wantOnlyError(t *testing.T, yml, want string) {
	t.Helper()
	got := parseErrors(t, yml)
	if len(got) != 1 || got[0] != want {
		t.Errorf("errors\n want: %s\n got:\n  %s\ninput:\n%s", want, strings.Join(got, "\n  "), yml)
	}
}
