package config

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// tcpTarget is a tcp deep-check target; its steps start at line 11.
func tcpTarget(steps string) string {
	return target("tcp", "127.0.0.1", 6379, "deep_check: true\ntcp_steps:\n"+indent(steps, 2)+"allow_plaintext_auth: true\n")
}

func TestTCPStepsLoad(t *testing.T) {
	t.Setenv("REDIS_PASSWORD", "pw-from-env")
	tg := firstTarget(t, tcpTarget(`- send: 'AUTH '
- send: ${REDIS_PASSWORD}
  secret: true
- send: '\r\n'
- expect: +OK
- send: "PING\r\n"
- expect_regex: '^\+PONG$'
  max_bytes: 64
- send: 'x\x00\\y'`))
	if tg.ConnectCheck != ConnectCheckTCP || tg.TLSMode != TLSPlain {
		t.Errorf("connect_check %q tls_mode %q", tg.ConnectCheck, tg.TLSMode)
	}
	st := tg.TCPSteps
	if len(st) != 7 {
		t.Fatalf("steps = %d", len(st))
	}
	for i, want := range []string{"AUTH ", "pw-from-env", "\r\n", "+OK", "PING\r\n", "", "x\x00\\y"} {
		if !bytes.Equal(st[i].Data, []byte(want)) {
			t.Errorf("step %d data = %q, want %q", i, st[i].Data, want)
		}
	}
	if !st[1].Secret || st[0].Secret {
		t.Errorf("secret flags wrong")
	}
	if st[3].MaxBytes != DefaultTCPExpectMaxBytes || st[5].MaxBytes != 64 {
		t.Errorf("max_bytes = %d, %d", st[3].MaxBytes, st[5].MaxBytes)
	}
	if st[5].Regexp == nil || !st[5].Regexp.MatchString("+PONG") {
		t.Errorf("regexp not compiled: %v", st[5].Regexp)
	}
	// Without deep_check a tcp target is a connect-only check.
	if tg := firstTarget(t, target("tcp", "127.0.0.1", 6379, "")); tg.DeepCheck || len(tg.TCPSteps) != 0 {
		t.Errorf("plain tcp target = %+v", tg)
	}
}

func TestTCPStepsErrors(t *testing.T) {
	sp := tp + "tcp_steps"
	tests := []struct {
		name, yml, want string
	}{
		{"steps on imap", imapTarget("tcp_steps: [{send: x}]"),
			sp + " (line 9): only applies to protocol tcp"},
		{"steps without deep_check", target("tcp", "::1", 1, "tcp_steps: [{send: x}]"),
			sp + " (line 9): only applies with deep_check (a connect-only check connects and closes)"},
		{"deep_check without steps", target("tcp", "::1", 1, "deep_check: true"),
			tp + "deep_check (line 9): a tcp target's deep check runs tcp_steps: list at least one step (or leave deep_check out for a connect-only check)"},
		{"empty step", tcpTarget("- {}"),
			sp + "[0] (line 11): needs one of send, expect or expect_regex"},
		{"two actions", tcpTarget("- send: x\n  expect: y"),
			sp + "[0] (line 11): has send and expect; a step does one thing (make one step of each)"},
		{"secret on expect", tcpTarget("- expect: y\n  secret: true"),
			sp + "[0].secret (line 12): only applies to a send step"},
		{"max_bytes on send", tcpTarget("- send: x\n  max_bytes: 10"),
			sp + "[0].max_bytes (line 12): only applies to an expect or expect_regex step"},
		{"max_bytes too large", tcpTarget("- expect: x\n  max_bytes: 1MiB"),
			sp + "[0].max_bytes (line 12): must be 1..65536 bytes, got 1048576"},
		{"max_bytes zero", tcpTarget("- expect: x\n  max_bytes: 0"),
			sp + "[0].max_bytes (line 12): must be 1..65536 bytes, got 0"},
		{"expect longer than max_bytes", tcpTarget("- expect: abcdef\n  max_bytes: 4"),
			sp + "[0].expect (line 11): is 6 bytes, longer than max_bytes 4: it could never match"},
		{"unknown escape", tcpTarget(`- send: 'a\qb'`),
			sp + `[0].send (line 11): has an unknown escape at offset 1 (use \r, \n, \t, \0, \\ or \xHH)`},
		{"lone backslash", tcpTarget(`- expect: 'ab\'`),
			sp + `[0].expect (line 11): ends with a lone backslash at offset 2 (write \\ for a backslash)`},
		{"short hex escape", tcpTarget(`- send: 'a\x4'`),
			sp + `[0].send (line 11): has \x without two hex digits at offset 1`},
		{"empty send", tcpTarget("- send: ''"),
			sp + "[0].send (line 11): must not be empty (an unset ${VAR}?)"},
		{"empty expect", tcpTarget("- expect: ''"),
			sp + "[0].expect (line 11): must not be empty (it would pass on any line)"},
		{"expect with line end", tcpTarget(`- expect: '+OK\r\n'`),
			sp + "[0].expect (line 11): must not contain CR or LF: it is matched against one line without its line end"},
		{"bad regex", tcpTarget("- expect_regex: '^(+OK'"),
			sp + "[0].expect_regex (line 11): is not a valid regular expression (Go RE2 syntax): error parsing regexp: missing argument to repetition operator: `+`"},
		{"empty regex", tcpTarget("- expect_regex: ''"),
			sp + "[0].expect_regex (line 11): must not be empty (it would pass on any line)"},
		{"duplicated key in a step", tcpTarget("- send: a\n  send: b"),
			sp + "[0].send (line 12): key given twice"},
		{"unknown key in a step", tcpTarget("- sned: a"),
			sp + "[0].sned (line 11): unknown key (known keys: expect, expect_regex, max_bytes, secret, send)"},
		{"starttls", tcpTarget("- send: x") + "          tls_mode: starttls\n",
			tp + "tls_mode (line 13): protocol tcp has no STARTTLS; use implicit or plain"},
		{"secret in clear text", target("tcp", "192.0.2.1", 1, "deep_check: true\ntcp_steps: [{send: pw, secret: true}]"),
			tp + "tls_mode (line 6): a send step marked secret is only sent over TLS: use tls_mode: implicit (allow_plaintext_auth: true is accepted for loopback hosts only)"},
		{"greeting", target("tcp", "::1", 1, "connect_check: greeting"),
			tp + "connect_check (line 9): protocol tcp has no greeting: its connect-only check connects and closes (use tcp; an expect step in tcp_steps reads a banner)"},
		{"credentials", target("tcp", "::1", 1, "test_username: u"),
			tp + "test_username (line 9): does not apply to protocol tcp (send a credential in a tcp_steps send step with secret: true)"},
		{"proxy_port", target("tcp", "::1", 1, "proxy_port: 2"),
			tp + "proxy_port (line 9): only applies to mail protocols (the port nginx or a Dovecot proxy connects to)"},
		{"too many steps", tcpTarget(strings.Repeat("- send: x\n", MaxTCPSteps+1)),
			sp + fmt.Sprintf(" (line 10): must have at most %d steps, got %d", MaxTCPSteps, MaxTCPSteps+1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { wantError(t, tc.yml, tc.want) })
	}
}

// A secret send value is never quoted by an error, whatever is wrong with it.
func TestTCPSecretNotInErrors(t *testing.T) {
	const pw = "hunter2-topsecret"
	for _, yml := range []string{
		tcpTarget(`- send: '` + pw + `\q'` + "\n  secret: true"),
		tcpTarget(`- send: '` + pw + `\x'` + "\n  secret: true"),
		tcpTarget(`- send: '` + pw + `'` + "\n  secret: true\n  expect: x"),
		target("tcp", "::1", 1, "tcp_steps: [{send: "+pw+", secret: true}]"),
	} {
		for _, e := range parseErrors(t, yml) {
			if strings.Contains(e, pw) {
				t.Errorf("secret in error %q", e)
			}
		}
	}
}

func TestDecodeEscapes(t *testing.T) {
	for in, want := range map[string]string{
		``:                    ``,
		`plain`:               `plain`,
		"raw\r\n":             "raw\r\n",
		`a\r\n`:               "a\r\n",
		`\t\0\\\x41\xfF`:      "\t\x00\\A\xff",
		`\\r`:                 `\r`,
		`\x00\x0a`:            "\x00\n",
		`end\\`:               `end\`,
		`\x7f\x80 ü`:          "\x7f\x80 ü",
		`mixed` + "\n" + `\n`: "mixed\n\n",
	} {
		got, err := DecodeEscapes(in)
		if err != nil || string(got) != want {
			t.Errorf("DecodeEscapes(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{`\`, `a\`, `\q`, `\x`, `\x4`, `\xg0`, `\x4g`, `\u0041`} {
		if _, err := DecodeEscapes(in); err == nil {
			t.Errorf("DecodeEscapes(%q) accepted", in)
		}
	}
}

// FuzzDecodeEscapes: never panics, never quotes its input in an error,
// and decoding the re-encoded output gives the output back.
func FuzzDecodeEscapes(f *testing.F) {
	for _, seed := range []string{``, `a\r\n`, `\x4`, `\\\x00`, "\xff\\", `\q`, `AUTH \x41\r\n`} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := DecodeEscapes(in)
		if err != nil {
			if len(in) > 8 && strings.Contains(err.Error(), in) {
				t.Fatalf("error quotes the input: %v", err)
			}
			return
		}
		if len(out) > len(in) {
			t.Fatalf("decoded %d bytes from %d", len(out), len(in))
		}
		var enc strings.Builder
		for _, c := range out {
			if c == '\\' || c < 0x20 || c >= 0x7f {
				fmt.Fprintf(&enc, `\x%02x`, c)
			} else {
				enc.WriteByte(c)
			}
		}
		back, err := DecodeEscapes(enc.String())
		if err != nil || !bytes.Equal(back, out) {
			t.Fatalf("round trip of %q: %q, %v", out, back, err)
		}
	})
}

// FuzzTCPSteps loads arbitrary step lists: no panic, and a loaded tcp
// target has every step decoded or compiled.
func FuzzTCPSteps(f *testing.F) {
	for _, seed := range []string{
		"- send: 'AUTH x\\r\\n'\n  secret: true\n- expect: +OK\n",
		"- expect_regex: '^(a+)+$'\n  max_bytes: 1k\n",
		"- {send: a, expect: b}\n- {}\n- expect: '\\x'\n",
		"- send: a\n  send: a\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, steps string) {
		if len(steps) > 4096 {
			return
		}
		c, err := Parse([]byte(tcpTarget(steps)))
		if err != nil {
			return
		}
		for i, st := range c.Auth.Services.BackendHealthChecks.Targets[0].TCPSteps {
			if st.ExpectRegex != "" && st.Regexp == nil || st.ExpectRegex == "" && len(st.Data) == 0 {
				t.Fatalf("step %d not prepared: %+v", i, st)
			}
		}
	})
}
