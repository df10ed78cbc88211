package probe

import (
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"
)

// FuzzAgentReply: any line parses without panicking into a reply whose
// values are in range and whose shown text is bounded, valid UTF-8 and free
// of control characters; and reading a line never returns one longer than
// MaxAgentLine or one holding its terminator.
func FuzzAgentReply(f *testing.F) {
	for _, s := range []string{"up", "down #disk full", "drain 50% maxconn:10", "MAINT,0%", "#",
		"up\x00down", "100000%", "maxconn:999999", "ready\tup\t75%", "\xff\xfe#\x1b[2J", "up down up down"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		r := ParseAgentReply(line)
		if r.WeightPercent < -1 || r.WeightPercent > maxAgentPercent || r.MaxConn < -1 || r.MaxConn > maxAgentPercent {
			t.Fatalf("out of range: %+v", r)
		}
		switch r.Health {
		case "", AgentUp, AgentDown, AgentFail, AgentStopped:
		default:
			t.Fatalf("health %q", r.Health)
		}
		switch r.Admin {
		case "", AgentReady, AgentDrain, AgentMaint:
		default:
			t.Fatalf("admin %q", r.Admin)
		}
		for _, s := range []string{r.Description, r.Unknown, r.Line} {
			if !utf8.ValidString(s) || strings.ContainsFunc(s, func(c rune) bool { return c < 0x20 || c == 0x7f || (c >= 0x80 && c <= 0x9f) }) {
				t.Fatalf("unsafe shown text %q", s)
			}
		}
		if len(r.Description) > maxAgentDescription+len("…") || len(r.Line) > MaxAgentLine+len("…") {
			t.Fatalf("unbounded text: %d / %d bytes", len(r.Description), len(r.Line))
		}
		got, err := readAgentLine(strings.NewReader(line + "\n"))
		if err == nil && (len(got) > MaxAgentLine || strings.ContainsAny(got, "\r\n")) {
			t.Fatalf("read line %q", got)
		}
		// An agent that writes one byte at a time is read the same way.
		slow, slowErr := readAgentLine(iotest.OneByteReader(strings.NewReader(line + "\n")))
		if slow != got || (slowErr == nil) != (err == nil) {
			t.Fatalf("byte by byte: %q, %v; at once: %q, %v", slow, slowErr, got, err)
		}
	})
}
