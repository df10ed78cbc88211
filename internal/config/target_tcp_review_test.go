package config

import (
	"bytes"
	"strings"
	"testing"
)

// A ${VAR} in a send or expect value stands for the variable's value as
// it is: a password with a backslash is sent with that backslash, not
// read as an escape (nor refused with its offset in a load error).
func TestReviewTCPEnvValueNotEscapeDecoded(t *testing.T) {
	for _, pw := range []string{`pa\ss`, `ends\`, `a\r\nQUIT`, `x\x41`} {
		t.Setenv("REVIEW_TCP_PW", pw)
		tg := firstTarget(t, tcpTarget(`- send: 'AUTH ${REVIEW_TCP_PW}\r\n'
  secret: true
- expect: '${REVIEW_TCP_PW}'`))
		if want := "AUTH " + pw + "\r\n"; !bytes.Equal(tg.TCPSteps[0].Data, []byte(want)) {
			t.Errorf("%q: send data = %q, want %q", pw, tg.TCPSteps[0].Data, want)
		}
		if !bytes.Equal(tg.TCPSteps[1].Data, []byte(pw)) {
			t.Errorf("%q: expect data = %q", pw, tg.TCPSteps[1].Data)
		}
	}
}

// $${VAR} stays a literal ${VAR} in a send value.
func TestReviewTCPEnvEscapeKept(t *testing.T) {
	tg := firstTarget(t, tcpTarget(`- send: 'x $${NOT_A_VAR}\n'`))
	if want := "x ${NOT_A_VAR}\n"; string(tg.TCPSteps[0].Data) != want {
		t.Errorf("data = %q, want %q", tg.TCPSteps[0].Data, want)
	}
}

// Hostile step lists: a step that is not a mapping, a huge list, a
// regular expression past the compile limits.
func TestReviewTCPHostileSteps(t *testing.T) {
	for _, tc := range []struct{ name, yml, want string }{
		{"scalar step", tcpTarget("- PING"), "tcp_steps[0] (line 11): must be a mapping"},
		{"list step", tcpTarget("- [send, x]"), "tcp_steps[0] (line 11): must be a mapping"},
		{"steps a mapping", target("tcp", "::1", 1, "deep_check: true\ntcp_steps: {send: x}"), "tcp_steps (line 10): must be a list"},
		{"huge repeat", tcpTarget("- expect_regex: '(a{1000}){1000}'"), "is not a valid regular expression"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := parseErrors(t, tc.yml)
			if len(errs) == 0 || !strings.Contains(strings.Join(errs, "\n"), tc.want) {
				t.Errorf("errors = %q, want one containing %q", errs, tc.want)
			}
		})
	}
	// A list far past MaxTCPSteps, with or without deep_check, yields a
	// bounded number of errors.
	huge := strings.Repeat("- send: '\\q'\n", 20000)
	for _, yml := range []string{tcpTarget(huge), target("tcp", "::1", 1, "tcp_steps:\n"+indent(huge, 2))} {
		if errs := parseErrors(t, yml); len(errs) > 10 {
			t.Errorf("%d errors for one oversized list, first %q", len(errs), errs[0])
		}
	}
}
