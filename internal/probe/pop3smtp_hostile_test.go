package probe

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// Hostile and broken servers: every check must end by its deadline with a
// classified reason, and leave no goroutine behind.

// silentDeadline is the conn deadline for servers that go quiet: short so
// they cost little. Servers that misbehave actively get talkDeadline, long
// enough that a slow -race run still sees the misbehaviour, not a timeout.
const (
	silentDeadline = 300 * time.Millisecond
	talkDeadline   = 10 * time.Second
)

type mailCheck struct {
	protocol string
	check    func(*session) error
	greeting string
	hello    string // the first command after the greeting
	helloOK  []string
	auth     string // the first login command (auto, PLAIN offered)
	authCont string // the continuation answering it
}

var mailChecks = []mailCheck{
	{"smtp", checkSMTP, dovecotAGreeting, ehlo, dovecotAEhloTLS, "AUTH PLAIN " + testPlainBlob, ""},
	{"lmtp", checkLMTP, aiosmtpdLMTPGreeting, "LHLO localhost.localdomain", aiosmtpdLHLO, "AUTH LOGIN " + dlgUserB64, "334 UGFzc3dvcmQA"},
	{"pop3", checkPOP3, pop3AGreeting, "CAPA", pop3ACapaTLS, "AUTH PLAIN", "+ "},
}

func hostileTarget(srv *dlgServer, protocol string) *Target {
	tg := dlgTarget(srv, protocol, TLSPlain, "auto")
	tg.AllowPlaintextAuth = true // loopback lab opt-in, so SASL starts on a plain conn
	return tg
}

func TestHostileServers(t *testing.T) {
	silent := func(c net.Conn) { _, _ = io.Copy(io.Discard, c) }
	endless := func(prefix string) func(c net.Conn) {
		return func(c net.Conn) {
			chunk := []byte(strings.Repeat("A", 64<<10))
			_, _ = io.WriteString(c, prefix)
			for i := 0; i < 1024; i++ { // at most 64 MB; the probe stops reading long before
				if _, err := c.Write(chunk); err != nil {
					return
				}
			}
		}
	}
	tenMBLine := []byte(strings.Repeat("x", 10<<20) + "\r\n")
	tenMB := func(c net.Conn) { _, _ = c.Write(tenMBLine) }
	garbage := func(c net.Conn) {
		_, _ = c.Write([]byte("\x00\xff\xfe\x16\x03\x01 garbage \x1b[31m\r\n"))
		_, _ = io.Copy(io.Discard, c)
	}
	for _, mc := range mailChecks {
		cases := []struct {
			name string
			raw  func(c net.Conn)
			want Reason
		}{
			{"greeting never comes", silent, ReasonTimeout},
			{"endless line", endless(""), ReasonProtocol},
			{"10 MB line", tenMB, ReasonProtocol},
			{"garbage", garbage, ReasonProtocol},
			{"reply stalls after the greeting", func(c net.Conn) {
				_, _ = io.WriteString(c, mc.greeting+"\r\n")
				_, _ = io.Copy(io.Discard, c)
			}, ReasonTimeout},
			{"endless capability list", func(c net.Conn) {
				r := bufio.NewReader(c)
				_, _ = io.WriteString(c, mc.greeting+"\r\n")
				_, _ = r.ReadString('\n')
				line := "250-X-CAP\r\n"
				if mc.protocol == "pop3" {
					_, _ = io.WriteString(c, "+OK\r\n")
					line = "X-CAP\r\n"
				}
				many := strings.Repeat(line, 64)
				for i := 0; i < 1024; i++ {
					if _, err := io.WriteString(c, many); err != nil {
						return
					}
				}
			}, ReasonProtocol},
			{"close mid-SASL", func(c net.Conn) {
				r := bufio.NewReader(c)
				_, _ = io.WriteString(c, mc.greeting+"\r\n")
				_, _ = r.ReadString('\n')
				_, _ = io.WriteString(c, strings.Join(mc.helloOK, "\r\n")+"\r\n")
				_, _ = r.ReadString('\n')
				if mc.authCont != "" {
					_, _ = io.WriteString(c, mc.authCont+"\r\n")
				}
				// then hang up without an answer
			}, ReasonProtocol},
		}
		for _, tc := range cases {
			t.Run(mc.protocol+"/"+tc.name, func(t *testing.T) {
				defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
				srv := startRaw(t, tc.raw)
				deadline := talkDeadline
				if tc.want == ReasonTimeout {
					deadline = silentDeadline
				}
				res, err := runDeep(t, hostileTarget(srv, mc.protocol), deadline, mc.check)
				srv.ln.Close()
				srv.finish(t)
				if err == nil {
					t.Fatal("check passed against a hostile server")
				}
				wantReason(t, err, tc.want)
				if strings.Contains(err.Error(), strings.Repeat("A", 300)) || len(err.Error()) > 1024 {
					t.Errorf("error quotes too much of the server line: %d bytes", len(err.Error()))
				}
				assertNoSecret(t, res, err)
			})
		}
	}
}
