package probe

import (
	"strings"
	"testing"
)

// The parsers get server bytes verbatim; they must never panic, never return
// more lines than the cap, and must keep their invariants.

func FuzzSMTPReply(f *testing.F) {
	for _, seed := range []string{
		strings.Join(dovecotAEhloPlain, "\n"),
		strings.Join(aiosmtpdLHLO, "\n"),
		"250-host\n250-AUTH \n250 STARTTLS",
		"250-host\n250-AUTH=LOGIN PLAIN\n250 auth plain",
		"220-first\n220 second",
		"554 5.3.2 No SMTP service here",
		"250",
		"25",
		"250-x\n451-bad\n250 y",
		"334 VXNlciBOYW1lAA==",
		"\x00\xff",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, input string) {
		reply, err := readSMTPReply(lineSource(strings.Split(input, "\n")...), func(l string) string { return l })
		if err != nil {
			return
		}
		if len(reply.lines) == 0 || len(reply.lines) > maxReplyLines || len(reply.lines) != len(reply.texts) {
			t.Fatalf("bad reply shape: %d lines, %d texts", len(reply.lines), len(reply.texts))
		}
		if reply.code < 200 || reply.code > 599 {
			t.Fatalf("code %d out of range", reply.code)
		}
		_ = reply.failureLine()
		_ = reply.hasErrorLine()
		caps := parseSMTPCaps(reply.texts)
		for m := range caps.mechs {
			if m == "" || m == "USERPASS" || m == "BASIC" || m != strings.ToUpper(m) {
				t.Fatalf("bad mechanism %q from %q", m, input)
			}
		}
	})
}

func FuzzPOP3Capa(f *testing.F) {
	for _, seed := range []string{
		strings.Join(pop3ACapa[1:], "\n"),
		strings.Join(pop3DCapaTLS[1:], "\n"),
		"SASL\n.",
		"..\n.",
		"USER\nsasl plain\n.",
		"",
		"\x00\n.",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, input string) {
		lines, err := readPOP3List(lineSource(strings.Split(input, "\n")...))
		if err != nil {
			return
		}
		if len(lines) > maxReplyLines {
			t.Fatalf("%d lines past the cap", len(lines))
		}
		caps := parsePOP3Capa(lines)
		for m := range caps.mechs {
			if m == "" || m == "BASIC" || m != strings.ToUpper(m) {
				t.Fatalf("bad mechanism %q from %q", m, input)
			}
		}
	})
}
