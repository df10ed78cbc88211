package probe

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Review tests of the agent check query and reply parser (branch h-agent).

// shownFields are the texts of a reply that reach the status API, the
// status page, logs, ctl and `backline probe`.
func shownFields(r AgentReply) map[string]string {
	return map[string]string{"line": r.Line, "description": r.Description, "unknown": r.Unknown}
}

// leaksPieceOf reports the first piece of secret (8 bytes or longer, any
// ASCII case) that s shows.
func leaksPieceOf(s, secret string) (string, bool) {
	const piece = 8
	ls, lsec := strings.ToLower(s), strings.ToLower(secret)
	for i := 0; i+piece <= len(lsec); i++ {
		if strings.Contains(ls, lsec[i:i+piece]) {
			return secret[i : i+piece], true
		}
	}
	return "", false
}

// An agent that echoes what it was sent must not put the send text (a
// token) into anything shown: not in another case, not only the token of
// "AUTH <token>", not the one line of a multi-line send it echoes, and not
// the part of it left before the description's or unknown word's cut.
func TestReviewAgentEchoNeverShowsSend(t *testing.T) {
	const token = "Zq8t7Kc4mR2xW9pL"
	long := strings.Repeat("x", maxAgentDescription-12)
	tests := []struct {
		name, send, line string
	}{
		{"echo in upper case", "mbox01 " + token + "\n", "drain # unknown client MBOX01 " + strings.ToUpper(token)},
		{"echo in lower case", token + "\n", "up " + strings.ToLower(token)},
		{"token of AUTH <token> alone", "AUTH " + token + "\n", "down # bad token " + token},
		{"one line of a two-line send", "hello\nauth " + token + "\n", "maint # got auth " + token},
		{"token cut by the description bound", token + "\n", "drain # " + long + " " + token},
		{"token cut by the unknown word bound", token + "\n", "drain " + long + token},
		{"token with a control byte the sanitiser replaces", "tok\x01" + token + "\n", "drain # tok\x01" + token},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := parseAgentReply(tt.line, newSendPieces(tt.send).withhold)
			for field, v := range shownFields(r) {
				if p, ok := leaksPieceOf(v, token); ok {
					t.Errorf("%s %q shows %q of the send text", field, v, p)
				}
			}
			// The words were parsed from the real line: withholding only
			// changes what is shown.
			if want := ParseAgentReply(tt.line); r.Admin != want.Admin || r.Health != want.Health {
				t.Errorf("words changed: %+v, want admin %q health %q", r, want.Admin, want.Health)
			}
		})
	}
}

// The same through a real query: the agent reads the send text and
// answers with it in upper case.
func TestReviewQueryAgentEchoInOtherCase(t *testing.T) {
	send := "secret-token-77\n"
	target, _ := fakeAgent(t, len(send), "drain # who is SECRET-TOKEN-77?\n", false)
	target.Agent.Send = send
	got, err := QueryAgent(context.Background(), target, nil)
	if err != nil {
		t.Fatal(err)
	}
	for field, v := range shownFields(got) {
		if strings.Contains(strings.ToLower(v), "secret-token-77") {
			t.Errorf("%s shows the send text: %q", field, v)
		}
	}
}

// HAProxy's grammar, word by word, against what the manual says.
func TestReviewAgentGrammarAgainstHAProxy(t *testing.T) {
	tests := []struct {
		line    string
		health  AgentHealth
		admin   AgentAdmin
		percent int
		maxconn int
		desc    string
	}{
		// "up" alone: the health word only (reviving needs the check too,
		// health decides that).
		{"up", AgentUp, "", -1, -1, ""},
		// down, fail and stopped all mark down; each may carry a description.
		{"stopped #planned upgrade", AgentStopped, "", -1, -1, "planned upgrade"},
		{"fail # db check failed", AgentFail, "", -1, -1, "db check failed"},
		// Percentages above 100 are allowed (HAProxy caps the weight, not the word).
		{"150%", "", "", 150, -1, ""},
		{"0%", "", "", 0, -1, ""},
		{"075%", "", "", 75, -1, ""},
		// "maxconn:" without a number changes nothing.
		{"maxconn:", "", "", -1, -1, ""},
		{"maxconn:12", "", "", -1, 12, ""},
		{"MAXCONN:12", "", "", -1, 12, ""},
		// Separators: spaces, tabs, commas, mixed and repeated.
		{"drain,,50%\t\tdown", AgentDown, AgentDrain, 50, -1, ""},
		// Last word of a kind wins, each kind apart.
		{"10% maint 20% ready", "", AgentReady, 20, -1, ""},
		// The description runs to the end of the line, commas included.
		{"down #a, b\tc", AgentDown, "", -1, -1, "a, b?c"},
		{"#only a description", "", "", -1, -1, "only a description"},
		// Negative and signed numbers are no percentage.
		{"-5%", "", "", -1, -1, ""},
	}
	for _, tt := range tests {
		r := ParseAgentReply(tt.line)
		if r.Health != tt.health || r.Admin != tt.admin || r.WeightPercent != tt.percent || r.MaxConn != tt.maxconn || r.Description != tt.desc {
			t.Errorf("%q: got health %q admin %q %d%% maxconn %d desc %q; want %q %q %d%% %d %q",
				tt.line, r.Health, r.Admin, r.WeightPercent, r.MaxConn, r.Description,
				tt.health, tt.admin, tt.percent, tt.maxconn, tt.desc)
		}
	}
}

// Hostile text from the agent: ANSI escapes and C1 controls never reach a
// shown field as they came.
func TestReviewAgentDescriptionControlCharacters(t *testing.T) {
	r := ParseAgentReply("drain # \x1b]0;owned\x07\x1b[31mred\u009b2J\r")
	for field, v := range shownFields(r) {
		if strings.ContainsAny(v, "\x1b\x07\r\u009b") {
			t.Errorf("%s keeps a control character: %q", field, v)
		}
	}
}

// countingConn is an agent connection that answers from an endless
// source, counting what was read, and blocks once the source runs dry
// until it is closed.
type countingConn struct {
	net.Conn // nil: only the methods below are used
	src      io.Reader
	read     atomic.Int64
	closed   chan struct{}
	dry      chan struct{} // closed when src has nothing more
	once     sync.Once
	dryOnce  sync.Once
}

func newCountingConn(src io.Reader) *countingConn {
	return &countingConn{src: src, closed: make(chan struct{}), dry: make(chan struct{})}
}

func (c *countingConn) Read(p []byte) (int, error) {
	select {
	case <-c.closed:
		return 0, net.ErrClosed
	default:
	}
	n, err := c.src.Read(p)
	c.read.Add(int64(n))
	if errors.Is(err, io.EOF) {
		c.dryOnce.Do(func() { close(c.dry) })
		<-c.closed // trickled everything: stall until closed
		return n, net.ErrClosed
	}
	return n, err
}
func (c *countingConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *countingConn) Close() error                     { c.once.Do(func() { close(c.closed) }); return nil }
func (c *countingConn) SetDeadline(time.Time) error      { return nil }
func (c *countingConn) SetReadDeadline(time.Time) error  { return nil }
func (c *countingConn) SetWriteDeadline(time.Time) error { return nil }

// oneByte reads one byte per call (a trickling agent).
type oneByte struct{ r io.Reader }

func (o oneByte) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}

// An agent answering megabytes without a line end costs at most one
// line's buffer, byte by byte or in one piece.
func TestReviewAgentMegabytesReadBounded(t *testing.T) {
	for name, src := range map[string]func() io.Reader{
		"bulk":     func() io.Reader { return strings.NewReader(strings.Repeat("u", 4<<20)) },
		"trickled": func() io.Reader { return oneByte{strings.NewReader(strings.Repeat("u", 4<<20))} },
	} {
		t.Run(name, func(t *testing.T) {
			conn := newCountingConn(src())
			target := &Target{Host: "127.0.0.1", Agent: &AgentCheck{Port: 9, Timeout: time.Hour}}
			dial := func(context.Context, string, string) (net.Conn, error) { return conn, nil }
			_, err := QueryAgent(context.Background(), target, dial)
			if !errors.Is(err, ErrAgentLong) {
				t.Fatalf("err = %v, want ErrAgentLong", err)
			}
			if n := conn.read.Load(); n > MaxAgentLine+1 {
				t.Errorf("read %d bytes, want at most %d", n, MaxAgentLine+1)
			}
		})
	}
}

// An agent that trickles a few bytes and then stalls without a line end
// is ended by the query's context (the caller's reload or shutdown), even
// when the connection's deadline does nothing.
func TestReviewAgentStallEndsWithContext(t *testing.T) {
	conn := newCountingConn(oneByte{strings.NewReader("drain 5")})
	target := &Target{Host: "127.0.0.1", Agent: &AgentCheck{Port: 9, Timeout: time.Hour}}
	ctx, cancel := context.WithCancel(context.Background())
	dial := func(context.Context, string, string) (net.Conn, error) { return conn, nil }
	done := make(chan error, 1)
	go func() {
		_, err := QueryAgent(ctx, target, dial)
		done <- err
	}()
	select {
	case <-conn.dry: // trickled everything, now stalled
	case err := <-done:
		t.Fatalf("query ended before the agent stalled: %v", err)
	}
	cancel()
	if err := <-done; err == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want the context's cancel", err)
	}
}

// The send text never appears in a query's error, whatever failed.
func TestReviewAgentErrorsNeverShowSend(t *testing.T) {
	const send = "Zq8t7Kc4mR2xW9pL\n"
	for name, dial := range map[string]AgentDialer{
		"dial error quoting its input": func(_ context.Context, _, addr string) (net.Conn, error) {
			return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("refused")}
		},
		"closed at once": func(context.Context, string, string) (net.Conn, error) {
			c := newCountingConn(strings.NewReader(""))
			c.Close()
			return c, nil
		},
	} {
		target := &Target{Host: "127.0.0.1", Agent: &AgentCheck{Port: 9, Timeout: time.Hour, Send: send}}
		_, err := QueryAgent(context.Background(), target, dial)
		if err == nil {
			t.Fatalf("%s: no error", name)
		}
		if strings.Contains(err.Error(), strings.TrimSpace(send)) {
			t.Errorf("%s: error shows send: %v", name, err)
		}
	}
}

// Whatever the agent answers, no 8 bytes of an alphanumeric send text
// (any case) reach a shown field, and masking never changes the words.
func FuzzReviewAgentWithhold(f *testing.F) {
	f.Add("Zq8t7Kc4mR2xW9pL", "drain # ZQ8T7KC4MR2XW9PL")
	f.Add("abcdefgh", "up abcdefghabcdefgh # xxabcdefg")
	f.Fuzz(func(t *testing.T, send, line string) {
		if len(send) < 8 || strings.ContainsFunc(send, func(r rune) bool {
			return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9')
		}) || strings.ContainsAny(line, "\r\n") {
			return
		}
		r := parseAgentReply(line, newSendPieces(send+"\n").withhold)
		for field, v := range shownFields(r) {
			if p, ok := leaksPieceOf(v, send); ok {
				t.Fatalf("%s %q shows %q", field, v, p)
			}
		}
		if want := ParseAgentReply(line); r.Admin != want.Admin || r.Health != want.Health || r.WeightPercent != want.WeightPercent || r.MaxConn != want.MaxConn {
			t.Fatalf("words changed: %+v vs %+v", r, want)
		}
	})
}

// The send text around the 512-byte bound: a line that would carry it past
// the bound is no reply (the error names no part of it), and one that ends
// with it right at the bound shows none of it, although "<redacted>" is
// longer than what it replaces.
func TestReviewAgentEchoAtLineBound(t *testing.T) {
	const token = "Zq8t7Kc4mR2xW9pL"
	send := token + "\n"
	for _, tc := range []struct {
		name    string
		line    string
		wantErr error
	}{
		{"straddling the bound", "drain # " + strings.Repeat("x", MaxAgentLine-8-len(token)/2) + token, ErrAgentLong},
		{"ending at the bound", "drain # " + strings.Repeat("x", MaxAgentLine-8-len(token)) + token, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target, _ := fakeAgent(t, len(send), tc.line+"\n", false)
			target.Agent.Send = send
			got, err := QueryAgent(context.Background(), target, nil)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				if _, ok := leaksPieceOf(err.Error(), token); ok {
					t.Errorf("error shows the send text: %v", err)
				}
				return
			}
			if got.Admin != AgentDrain {
				t.Errorf("admin %q, want drain", got.Admin)
			}
			for field, v := range shownFields(got) {
				if p, ok := leaksPieceOf(v, token); ok {
					t.Errorf("%s shows %q", field, p)
				}
			}
		})
	}
}
