package probe

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseAgentReplyWords(t *testing.T) {
	none := AgentReply{WeightPercent: -1, MaxConn: -1}
	with := func(f func(*AgentReply)) AgentReply { r := none; f(&r); return r }
	tests := []struct {
		line string
		want AgentReply
	}{
		{"up", with(func(r *AgentReply) { r.Health = AgentUp })},
		{"down", with(func(r *AgentReply) { r.Health = AgentDown })},
		{"fail", with(func(r *AgentReply) { r.Health = AgentFail })},
		{"stopped", with(func(r *AgentReply) { r.Health = AgentStopped })},
		{"ready", with(func(r *AgentReply) { r.Admin = AgentReady })},
		{"drain", with(func(r *AgentReply) { r.Admin = AgentDrain })},
		{"maint", with(func(r *AgentReply) { r.Admin = AgentMaint })},
		{"75%", with(func(r *AgentReply) { r.WeightPercent = 75 })},
		{"0%", with(func(r *AgentReply) { r.WeightPercent = 0 })},
		{"250%", with(func(r *AgentReply) { r.WeightPercent = 250 })},
		{"007%", with(func(r *AgentReply) { r.WeightPercent = 7 })},
		{"maxconn:30", with(func(r *AgentReply) { r.MaxConn = 30 })},
		{"MAXCONN:0", with(func(r *AgentReply) { r.MaxConn = 0 })},
		{"", none},
		{"   ,\t, ", none},
		// Case-insensitive, any order, any separator (HAProxy).
		{"UP 50%", with(func(r *AgentReply) { r.Health = AgentUp; r.WeightPercent = 50 })},
		{"Drain,75%\tmaxconn:10", with(func(r *AgentReply) { r.Admin = AgentDrain; r.WeightPercent = 75; r.MaxConn = 10 })},
		{"down # disk full", with(func(r *AgentReply) { r.Health = AgentDown; r.Description = "disk full" })},
		{"maint #", with(func(r *AgentReply) { r.Admin = AgentMaint })},
		{"#only a comment, up", with(func(r *AgentReply) { r.Description = "only a comment, up" })},
		// Duplicates: the last word of each category wins.
		{"up down", with(func(r *AgentReply) { r.Health = AgentDown })},
		{"down up", with(func(r *AgentReply) { r.Health = AgentUp })},
		{"drain ready", with(func(r *AgentReply) { r.Admin = AgentReady })},
		{"10% 90%", with(func(r *AgentReply) { r.WeightPercent = 90 })},
		{"maxconn:1 maxconn:2", with(func(r *AgentReply) { r.MaxConn = 2 })},
		// Unknown words are skipped, the first one is kept; known words apply.
		{"up banana 50%", with(func(r *AgentReply) { r.Health = AgentUp; r.WeightPercent = 50; r.Unknown = "banana" })},
		{"HTTP/1.1 400 Bad Request", with(func(r *AgentReply) { r.Unknown = "HTTP/1.1" })},
		{"down#x", with(func(r *AgentReply) { r.Unknown = "down#x" })},
		{"50", with(func(r *AgentReply) { r.Unknown = "50" })},
		{"%", with(func(r *AgentReply) { r.Unknown = "%" })},
		{"-5%", with(func(r *AgentReply) { r.Unknown = "-5%" })},
		{"+5%", with(func(r *AgentReply) { r.Unknown = "+5%" })},
		{"5.5%", with(func(r *AgentReply) { r.Unknown = "5.5%" })},
		{"0x10%", with(func(r *AgentReply) { r.Unknown = "0x10%" })},
		{"1000000%", with(func(r *AgentReply) { r.Unknown = "1000000%" })},
		{"50%%", with(func(r *AgentReply) { r.Unknown = "50%%" })},
		{"weight:50", with(func(r *AgentReply) { r.Unknown = "weight:50" })},
		{"maxconn:", with(func(r *AgentReply) { r.Unknown = "maxconn:" })},
		{"maxconn:-1", with(func(r *AgentReply) { r.Unknown = "maxconn:-1" })},
		{"maxconn: 5", with(func(r *AgentReply) { r.Unknown = "maxconn:" })},
		{"upp", with(func(r *AgentReply) { r.Unknown = "upp" })},
		// Control characters: a word carrying one is no known word and is
		// shown with '?' in its place.
		{"up\x00", with(func(r *AgentReply) { r.Unknown = "up?" })},
		{"dr\x1bain up", with(func(r *AgentReply) { r.Health = AgentUp; r.Unknown = "dr?ain" })},
		{"down #bad\x07\x7f\xffbyte", with(func(r *AgentReply) { r.Health = AgentDown; r.Description = "bad???byte" })},
		{"up \u00e9t\u00e9", with(func(r *AgentReply) { r.Health = AgentUp; r.Unknown = "\u00e9t\u00e9" })},
	}
	for _, tt := range tests {
		t.Run(strconv.Quote(tt.line), func(t *testing.T) {
			got := ParseAgentReply(tt.line)
			tt.want.Line = SanitizeAgentText(tt.line, MaxAgentLine)
			if got != tt.want {
				t.Errorf("ParseAgentReply(%q)\n got %+v\nwant %+v", tt.line, got, tt.want)
			}
		})
	}
}

func TestParseAgentReplyBoundsDescription(t *testing.T) {
	r := ParseAgentReply("down #" + strings.Repeat("\u00e9", 300))
	if len(r.Description) > maxAgentDescription+len("…") || !strings.HasSuffix(r.Description, "…") {
		t.Fatalf("description of %d bytes, want at most %d and a cut mark", len(r.Description), maxAgentDescription)
	}
	if r.Health != AgentDown {
		t.Fatalf("health %q, want down", r.Health)
	}
}

func TestSanitizeAgentText(t *testing.T) {
	for in, want := range map[string]string{
		"plain":                "plain",
		"a\tb":                 "a?b",
		"\x1b[31mred":          "?[31mred",
		"\xc3":                 "?",
		"\u0085next":           "?next",
		"caf\u00e9 \U0001F600": "caf\u00e9 \U0001F600",
	} {
		if got := SanitizeAgentText(in, 64); got != want {
			t.Errorf("SanitizeAgentText(%q) = %q, want %q", in, got, want)
		}
	}
	if got := SanitizeAgentText("\u00e9\u00e9\u00e9", 3); got != "\u00e9…" {
		t.Errorf("cut inside a rune: %q", got)
	}
}

// fakeAgent accepts one connection on 127.0.0.1, reads len(expectSent)
// bytes (what backline sends), writes answer and then closes or, with
// hold, keeps the connection open until the test ends. It returns the
// target and a channel with what was read.
func fakeAgent(t *testing.T, expectSent int, answer string, hold bool) (*Target, <-chan string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	sent := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, expectSent)
		_, _ = io.ReadFull(bufio.NewReader(c), buf)
		sent <- string(buf)
		_, _ = io.WriteString(c, answer)
		if hold {
			<-done
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	return &Target{Host: "127.0.0.1", Port: 1, Agent: &AgentCheck{Port: port, Timeout: 5 * time.Second}}, sent
}

func TestQueryAgentTranscripts(t *testing.T) {
	tests := []struct {
		name, answer string
		hold         bool
		want         AgentReply
		wantErr      error
	}{
		{name: "LF", answer: "drain 50%\n", want: ParseAgentReply("drain 50%")},
		{name: "CRLF", answer: "up\r\n", want: ParseAgentReply("up")},
		{name: "CR only", answer: "maint\r", hold: true, want: ParseAgentReply("maint")},
		{name: "LF, connection kept open", answer: "down #oom\n", hold: true, want: ParseAgentReply("down #oom")},
		{name: "second line ignored", answer: "ready\ndown\n", want: ParseAgentReply("ready")},
		{name: "empty line", answer: "\n", want: ParseAgentReply("")},
		{name: "longest line", answer: strings.Repeat(" ", MaxAgentLine-2) + "up\n", want: ParseAgentReply(strings.Repeat(" ", MaxAgentLine-2) + "up")},
		{name: "closed without a line end", answer: "down", wantErr: ErrAgentIncomplete},
		{name: "closed without a word", answer: "", wantErr: ErrAgentIncomplete},
		{name: "oversized line", answer: strings.Repeat("u", MaxAgentLine+1) + "\n", wantErr: ErrAgentLong},
		{name: "oversized, kept open", answer: strings.Repeat("u", MaxAgentLine+1), hold: true, wantErr: ErrAgentLong},
		{name: "binary garbage", answer: "\x00\x01\xfe\xff\n", want: ParseAgentReply("\x00\x01\xfe\xff")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target, _ := fakeAgent(t, 0, tt.answer, tt.hold)
			got, err := QueryAgent(context.Background(), target, nil)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("reply\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestQueryAgentSends(t *testing.T) {
	send := "backend mbox01\n"
	target, sent := fakeAgent(t, len(send), "75%\n", false)
	target.Agent.Send = send
	got, err := QueryAgent(context.Background(), target, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s := <-sent; s != send {
		t.Errorf("agent read %q, want %q", s, send)
	}
	if got.WeightPercent != 75 {
		t.Errorf("weight %d%%, want 75%%", got.WeightPercent)
	}
}

// A slow agent (connected, silent) ends with the query's timeout, not later.
func TestQueryAgentSilentTimesOut(t *testing.T) {
	target, _ := fakeAgent(t, 0, "", true)
	target.Agent.Timeout = 50 * time.Millisecond
	_, err := QueryAgent(context.Background(), target, nil)
	if !errors.Is(err, ErrAgentTimeout) {
		t.Fatalf("err = %v, want a deadline", err)
	}
}

func TestQueryAgentRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	target := &Target{Host: "127.0.0.1", Port: 1, Agent: &AgentCheck{Port: port, Timeout: time.Second}}
	_, err = QueryAgent(context.Background(), target, nil)
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:"+strconv.Itoa(port)) {
		t.Fatalf("err = %v, want a dial error naming the agent address", err)
	}
}

func TestAgentAddress(t *testing.T) {
	target := &Target{Host: "::1", Port: 143, Agent: &AgentCheck{Port: 9999}}
	if got := target.Agent.Address(target); got != "[::1]:9999" {
		t.Errorf("address %q", got)
	}
	target.Agent.Host = "[2001:db8::7]"
	if got := target.Agent.Address(target); got != "[2001:db8::7]:9999" {
		t.Errorf("address %q", got)
	}
}

func TestQueryAgentRefusedNamesAddressOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	_, err = QueryAgent(context.Background(), &Target{Host: "127.0.0.1", Agent: &AgentCheck{Port: port, Timeout: time.Second}}, nil)
	if err == nil || err.Error() != "agent "+addr+": connect: connection refused" {
		t.Fatalf("err = %v", err)
	}
}

// An agent echoing the send text does not put it on the status page.
func TestQueryAgentWithholdsSendInReply(t *testing.T) {
	send := "tok-3f9a\n"
	target, _ := fakeAgent(t, len(send), "drain tok-3f9a # for tok-3f9a\n", false)
	target.Agent.Send = send
	got, err := QueryAgent(context.Background(), target, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Admin != AgentDrain || got.Line != "drain <redacted> # for <redacted>" || got.Unknown != "<redacted>" || got.Description != "for <redacted>" {
		t.Errorf("reply %+v", got)
	}
	if r := parseAgentReply("up ok", newSendPieces("ok\n").withhold); r.Line != "up ok" {
		t.Errorf("a short send text is not withheld: %+v", r)
	}
}
