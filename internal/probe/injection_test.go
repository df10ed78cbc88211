package probe

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
)

// Issue 9 item 3: backend_login hands the probe a user's own name and
// password. A CR, LF or NUL inside them must never reach the wire, where it
// would end the command and start another ("pw\r\nDELE 1"), or split a SASL
// PLAIN message. Each server below plays everything up to the login and then
// records whatever else arrives.

// injectionServer is the part of each protocol before the login.
type injectionServer struct {
	protocol string
	mode     TLSMode
	// prelude is played with script(); the login commands come after it.
	prelude []string
	// loginVerbs start the lines that must not arrive.
	loginVerbs []string
	// answer, when set, is sent for every line after the prelude, so an
	// unfixed POP3 client goes on from USER to PASS.
	answer string
}

var injectionServers = []injectionServer{
	{"pop3", TLSPlain, []string{"S: +OK ready", "C: CAPA", "S: +OK", "S: USER", "S: ."}, []string{"USER", "PASS", "AUTH"}, "+OK"},
	{"pop3", TLSPlain, []string{"S: +OK ready", "C: CAPA", "S: +OK", "S: SASL PLAIN LOGIN", "S: ."}, []string{"USER", "PASS", "AUTH"}, "+ "},
	{"imap", TLSPlain, []string{"S: * OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN AUTH=LOGIN] ready"}, []string{"a1 AUTHENTICATE", "a1 LOGIN"}, ""},
	{"smtp", TLSPlain, []string{"S: 220 ready", "C: " + ehlo, "S: 250-host", "S: 250 AUTH PLAIN LOGIN"}, []string{"AUTH"}, ""},
	{"lmtp", TLSPlain, []string{"S: 220 ready", "C: LHLO localhost.localdomain", "S: 250-host", "S: 250 AUTH LOGIN"}, []string{"AUTH"}, ""},
	{"sieve", TLSPlain, []string{`S: "SASL" "PLAIN LOGIN"`, `S: OK "ready"`}, []string{"AUTHENTICATE"}, ""},
	// HTTP refuses before the request is written: the server sees nothing.
	{"http", TLSPlain, nil, []string{"GET"}, ""},
}

// logoutLines may follow a refused login: the goodbye carries no value.
var logoutLines = map[string]bool{"QUIT": true, "LOGOUT": true, "a1 LOGOUT": true}

// playThenRecord plays steps like script, then records every further line
// without judging it, so the test can, and answers each with answer.
func playThenRecord(answer string, steps ...string) func(*fakeConn) {
	return func(c *fakeConn) {
		for _, step := range steps {
			switch {
			case strings.HasPrefix(step, "S: "):
				c.send(step[3:])
			case strings.HasPrefix(step, "C: "):
				if !c.expect(step[3:]) {
					return
				}
			}
		}
		for range 1000 {
			if _, err := c.readLine(); err != nil {
				return
			}
			if answer != "" {
				c.send(answer)
			}
		}
	}
}

func TestCredentialsWithLineBreaksNeverReachTheServer(t *testing.T) {
	hostile := []struct {
		name       string
		user, pass string
	}{
		{"CRLF in password", testUser, "pw\r\nDELE 1"},
		{"LF in password", testUser, "pw\nDELE 1"},
		{"CR in password", testUser, "pw\rDELE 1"},
		{"NUL in password", testUser, "pw\x00DELE 1"},
		{"CRLF in user", "bob\r\nDELE 1", testPassword},
		{"NUL in user (SASL PLAIN authzid smuggling)", "bob\x00admin", testPassword},
	}
	for _, srvCase := range injectionServers {
		for _, h := range hostile {
			t.Run(srvCase.protocol+"/"+strings.Join(srvCase.loginVerbs, ",")+"/"+h.name, func(t *testing.T) {
				srv := startFake(t, playThenRecord(srvCase.answer, srvCase.prelude...))
				tg := newTarget(t, srvCase.protocol, srv, srvCase.mode)
				tg.AllowPlaintextAuth = true // loopback lab opt-in: the login would start on this conn
				tg.Username, tg.Password = h.user, h.pass
				// Unfixed code waits for an answer that never comes and fails
				// by this timeout, not with ErrUnsafeValue. 5 s (was 500 ms):
				// the prelude (a STARTTLS handshake among them) must fit in it
				// on a loaded machine.
				tg.DeepTimeout = 5 * time.Second
				res := (&Prober{}).Check(context.Background(), tg, PhaseDeep, Options{Transcript: true})
				srv.wait()

				if res.OK || res.Err == nil {
					t.Errorf("check passed with a hostile credential")
				} else if !errors.Is(res.Err, ErrUnsafeValue) {
					t.Errorf("error %q is not ErrUnsafeValue (reason %q)", res.Err, res.Reason)
				}
				got := srv.received()
				for _, step := range srvCase.prelude {
					if strings.HasPrefix(step, "C: ") && len(got) > 0 {
						got = got[1:]
					}
				}
				for _, line := range got {
					if !logoutLines[line] {
						t.Errorf("after the refused login the server received %q", line)
					}
					for _, verb := range srvCase.loginVerbs {
						if strings.HasPrefix(line, verb) {
							t.Errorf("login command reached the server: %q", line)
						}
					}
					if strings.Contains(line, "DELE") || strings.Contains(line, "admin") {
						t.Errorf("injected text reached the server: %q", line)
					}
				}
				hostileValue := h.pass
				if h.user != testUser {
					hostileValue = h.user
				}
				texts := res.Transcript
				if res.Err != nil {
					texts = append(texts, res.Err.Error())
				}
				for _, text := range texts {
					if strings.Contains(text, "DELE") || strings.Contains(text, hostileValue) {
						t.Errorf("the refused value shows in %q", text)
					}
				}
			})
		}
	}
}

// The session's writers are the last line of defence: whatever a protocol
// file builds, a line with CR, LF or NUL is not written, and the error does
// not quote it.
func TestSessionWritersRefuseLineBreaks(t *testing.T) {
	srv := startFake(t, func(c *fakeConn) { c.drain() })
	tg := newTarget(t, "pop3", srv, TLSPlain)
	for _, line := range []string{"USER a\r\nDELE 1", "USER a\nDELE 1", "USER a\rDELE 1", "USER a\x00DELE 1"} {
		var res Result
		conn, _, err := (&Prober{}).connect(context.Background(), tg, &res, false, false)
		if err != nil {
			t.Fatal(err)
		}
		s := newSession(conn, tg, &res, Options{Transcript: true})
		errLine := s.writeLine(line)
		errSecret := s.writeSecret(line, "USER "+redacted)
		conn.Close()
		for _, err := range []error{errLine, errSecret} {
			if !errors.Is(err, ErrUnsafeValue) {
				t.Errorf("write %q: err = %v, want ErrUnsafeValue", line, err)
			} else if strings.Contains(err.Error(), "DELE") {
				t.Errorf("error quotes the refused line: %q", err)
			}
		}
		if len(res.Transcript) != 0 {
			t.Errorf("refused line noted in the transcript: %q", res.Transcript)
		}
	}
	srv.wait()
	if got := srv.received(); len(got) != 0 {
		t.Errorf("server received %q", got)
	}
}

// A configured HTTP header value with a line break is refused, not cleaned
// up: the operator learns the value is wrong, and no request is sent.
func TestHTTPHeaderValueWithLineBreakIsRefused(t *testing.T) {
	for _, value := range []string{"a\r\nX-Evil: 1", "a\nX-Evil: 1", "a\x00b"} {
		srv := startFake(t, func(c *fakeConn) { c.drain() })
		tg := newTarget(t, "http", srv, TLSPlain)
		tg.Username, tg.Password = "", ""
		tg.HTTP = &HTTPExpect{Path: "/", Headers: map[string]string{"X-Token": value}}
		res := (&Prober{}).Check(context.Background(), tg, PhaseDeep, Options{Transcript: true})
		srv.wait()
		if res.OK || res.Reason != ReasonConfig || !errors.Is(res.Err, ErrUnsafeValue) {
			t.Fatalf("value %q: ok=%v reason=%q err=%v", value, res.OK, res.Reason, res.Err)
		}
		if !strings.Contains(res.Err.Error(), "X-Token") || strings.Contains(res.Err.Error(), "Evil") {
			t.Errorf("error %q should name the header, not quote its value", res.Err)
		}
		if got := srv.received(); len(got) != 0 {
			t.Errorf("server received %q", got)
		}
	}
}

// An HTTP Basic user-id cannot contain a colon (RFC 7617 §2): the server
// would split it at the first one and check another account.
func TestHTTPBasicUserWithColonIsRefused(t *testing.T) {
	srv := startFake(t, func(c *fakeConn) { c.drain() })
	tg := newTarget(t, "http", srv, TLSPlain)
	tg.AllowPlaintextAuth = true
	tg.Username = "bob:admin"
	res := (&Prober{}).Check(context.Background(), tg, PhaseDeep, Options{})
	srv.wait()
	if res.OK || !errors.Is(res.Err, ErrUnsafeValue) || strings.Contains(res.Err.Error(), "bob") {
		t.Fatalf("ok=%v reason=%q err=%v", res.OK, res.Reason, res.Err)
	}
	if got := srv.received(); len(got) != 0 {
		t.Errorf("server received %q", got)
	}
}

func TestNewTargetRefusesLineBreaksInTestCredentials(t *testing.T) {
	for _, tc := range []struct{ user, pass, key string }{
		{"u\r\n", "p", "test_username"},
		{"u", "p\nDELE 1", "test_password"},
		{"u", "p\x00", "test_password"},
	} {
		ct := configTarget()
		ct.TestUsername, ct.TestPassword = tc.user, tc.pass
		_, err := NewTarget(ct)
		if err == nil || !strings.Contains(err.Error(), tc.key) || strings.Contains(err.Error(), "DELE") {
			t.Errorf("user %q pass %q: err = %v, want one naming %s", tc.user, tc.pass, err, tc.key)
		}
	}
}

func configTarget() *config.Target {
	return &config.Target{
		Name: "imap-a", Protocol: "imap", Host: "imap.example.org", Port: 993,
		TestUsername: "u", TestPassword: "p", AuthMechanism: "auto", DeepCheck: true, TLSMode: "implicit",
	}
}
