package probe

// A server that sends one SASL challenge more than the mechanism has
// responses for is waiting for a client response, not a command: a QUIT
// or LOGOUT written then is read as the next SASL response ("QUIT" is
// even valid base64), so the server sees a garbled login attempt instead
// of a goodbye. The check fails as before and says no goodbye.

import (
	"testing"
	"time"
)

func TestDeepGoodbyeNotInsideSASLExchange(t *testing.T) {
	for _, tc := range []struct {
		name     string
		protocol string
		check    func(*session) error
		steps    []dlgStep
		sent     []string
		err      string
	}{
		{
			name: "smtp AUTH PLAIN", protocol: "smtp", check: checkSMTP,
			steps: []dlgStep{
				serverSays(dovecotAGreeting),
				clientSends(ehlo, dovecotAEhloTLS...),
				clientSends("AUTH PLAIN "+testPlainBlob, "334 "),
			},
			sent: []string{ehlo, "AUTH PLAIN " + testPlainBlob},
			err:  "SMTP AUTH PLAIN failed: 334 ",
		},
		{
			name: "pop3 AUTH PLAIN", protocol: "pop3", check: checkPOP3,
			steps: []dlgStep{
				serverSays(pop3AGreeting),
				clientSends("CAPA", "+OK", "SASL PLAIN", "."),
				clientSends("AUTH PLAIN", "+ "),
				clientSends(testPlainBlob, "+ "),
			},
			sent: []string{"CAPA", "AUTH PLAIN", testPlainBlob},
			err:  "POP3 AUTH PLAIN failed: unexpected continuation after the last response: + ",
		},
		{
			name: "imap AUTHENTICATE PLAIN", protocol: "imap", check: checkIMAP,
			steps: []dlgStep{
				serverSays(imapATLSGreeting),
				clientSends("a1 AUTHENTICATE PLAIN "+testPlainBlob, "+ "),
			},
			sent: []string{"a1 AUTHENTICATE PLAIN " + testPlainBlob},
			err:  "IMAP server sent an unexpected continuation during AUTHENTICATE PLAIN: + ",
		},
		{
			name: "sieve AUTHENTICATE PLAIN", protocol: "sieve", check: checkSieve,
			steps: []dlgStep{
				serverSays(`"SASL" "PLAIN"`, `"SASL-IR"`, `OK "ready"`),
				clientSends(`AUTHENTICATE "PLAIN" "`+testPlainBlob+`"`, `""`),
			},
			sent: []string{`AUTHENTICATE "PLAIN" "` + testPlainBlob + `"`},
			err:  `ManageSieve server sent an unexpected challenge during AUTHENTICATE PLAIN: ""`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startDialogue(t, true, tc.steps...)
			res, err := runDeep(t, dlgTarget(srv, tc.protocol, TLSImplicit, "PLAIN"), 5*time.Second, tc.check)
			wantReceived(t, srv.finish(t), tc.sent...)
			wantError(t, err, ReasonProtocol, tc.err)
			if n := len(res.Transcript); n == 0 || res.Transcript[n-1] != noGoodbye {
				t.Errorf("transcript %q does not end with %q", res.Transcript, noGoodbye)
			}
			assertNoSecret(t, res, err)
		})
	}
}
