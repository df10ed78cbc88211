package probe

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// Lines from the harness transcripts (mail-server-transcripts.md §4).
var (
	pop3AGreeting = "+OK Dovecot harness-a ready."
	pop3ACapa     = []string{"+OK", "CAPA", "TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE", "STLS", "USER", "SASL PLAIN LOGIN", "."}
	pop3ACapaTLS  = []string{"+OK", "CAPA", "TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE", "USER", "SASL PLAIN LOGIN", "."}
	pop3DGreeting = "+OK Dovecot harness-d ready."
	pop3DCapaTLS  = []string{"+OK", "CAPA", "TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE", "USER", "SASL LOGIN", "."}
)

func pop3StartTLSSteps(greeting string, capaTLS []string) []dlgStep {
	return []dlgStep{
		serverSays(greeting),
		clientSends("CAPA", pop3ACapa...),
		{expect: "STLS", reply: []string{"+OK Begin TLS negotiation now."}, startTLS: true},
		clientSends("CAPA", capaTLS...),
	}
}

func TestPOP3DovecotAStartTLS(t *testing.T) {
	cases := []struct {
		name, mechanism, wantMech string
		login                     []dlgStep
	}{
		{"USERPASS", "USERPASS", "USERPASS", []dlgStep{
			clientSends("USER "+testUser, "+OK"),
			clientSends("PASS "+testPassword, "+OK Logged in."),
		}},
		{"auto prefers SASL PLAIN over USER", "auto", "PLAIN", []dlgStep{
			clientSends("AUTH PLAIN", "+ "),
			clientSends(testPlainBlob, "+OK Logged in."),
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			steps := append(pop3StartTLSSteps(pop3AGreeting, pop3ACapaTLS), tc.login...)
			srv := startDialogue(t, false, append(steps, clientSends("QUIT", "+OK Logging out."))...)
			res, err := runDeep(t, dlgTarget(srv, "pop3", TLSStartTLS, tc.mechanism), 5*time.Second, checkPOP3)
			srv.finish(t)
			if err != nil {
				t.Fatalf("%v\n%s", err, strings.Join(res.Transcript, "\n"))
			}
			if res.Mechanism != tc.wantMech {
				t.Errorf("mechanism = %q, want %q", res.Mechanism, tc.wantMech)
			}
			wantSteps(t, res, "greeting", "capabilities", "starttls", "capabilities", "auth", "logout")
			assertNoSecret(t, res, err)
		})
	}
}

func TestPOP3ImplicitTLSSASL(t *testing.T) {
	cases := []struct {
		mechanism string
		login     []dlgStep
	}{
		{"PLAIN", []dlgStep{
			clientSends("AUTH PLAIN", "+ "),
			clientSends(testPlainBlob, "+OK Logged in."),
		}},
		{"LOGIN", []dlgStep{
			clientSends("AUTH LOGIN", "+ VXNlcm5hbWU6"),
			clientSends(dlgUserB64, "+ UGFzc3dvcmQ6"),
			clientSends(dlgPassB64, "+OK Logged in."),
		}},
	}
	for _, tc := range cases {
		t.Run(tc.mechanism, func(t *testing.T) {
			steps := append([]dlgStep{serverSays(pop3AGreeting), clientSends("CAPA", pop3ACapaTLS...)}, tc.login...)
			srv := startDialogue(t, true, append(steps, clientSends("QUIT", "+OK Logging out."))...)
			res, err := runDeep(t, dlgTarget(srv, "pop3", TLSImplicit, tc.mechanism), 5*time.Second, checkPOP3)
			srv.finish(t)
			if err != nil {
				t.Fatalf("%v\n%s", err, strings.Join(res.Transcript, "\n"))
			}
			if res.Mechanism != tc.mechanism {
				t.Errorf("mechanism = %q", res.Mechanism)
			}
			assertNoSecret(t, res, err)
		})
	}
}

func TestPOP3DovecotDLoginOnly(t *testing.T) {
	t.Run("auto uses SASL LOGIN although USER is advertised", func(t *testing.T) {
		srv := startDialogue(t, true,
			serverSays(pop3DGreeting),
			clientSends("CAPA", pop3DCapaTLS...),
			clientSends("AUTH LOGIN", "+ VXNlcm5hbWU6"),
			clientSends(dlgUserB64, "+ UGFzc3dvcmQ6"),
			clientSends(dlgPassB64, "+OK Logged in."),
			clientSends("QUIT", "+OK Logging out."),
		)
		res, err := runDeep(t, dlgTarget(srv, "pop3", TLSImplicit, "auto"), 5*time.Second, checkPOP3)
		srv.finish(t)
		if err != nil {
			t.Fatal(err)
		}
		if res.Mechanism != "LOGIN" {
			t.Errorf("mechanism = %q", res.Mechanism)
		}
	})
	t.Run("USERPASS is advertised but refused", func(t *testing.T) {
		srv := startDialogue(t, true,
			serverSays(pop3DGreeting),
			clientSends("CAPA", pop3DCapaTLS...),
			clientSends("USER "+testUser, "+OK"),
			clientSends("PASS "+testPassword, "-ERR [AUTH] Unsupported authentication mechanism."),
			clientSends("QUIT", "+OK Logging out."),
		)
		res, err := runDeep(t, dlgTarget(srv, "pop3", TLSImplicit, "USERPASS"), 5*time.Second, checkPOP3)
		srv.finish(t)
		wantReason(t, err, ReasonAuth)
		if want := "POP3 PASS failed: -ERR [AUTH] Unsupported authentication mechanism."; err.Error() != want {
			t.Errorf("error = %q, want %q", err, want)
		}
		assertNoSecret(t, res, err)
	})
	t.Run("explicit PLAIN is unavailable", func(t *testing.T) {
		srv := startDialogue(t, true,
			serverSays(pop3DGreeting),
			clientSends("CAPA", pop3DCapaTLS...),
			clientSends("QUIT", "+OK Logging out."),
		)
		tg := dlgTarget(srv, "pop3", TLSImplicit, "PLAIN")
		_, err := runDeep(t, tg, 5*time.Second, checkPOP3)
		got := srv.finish(t)
		wantReason(t, err, ReasonConfig)
		var unavailable *MechanismUnavailableError
		if !errors.As(err, &unavailable) {
			t.Fatalf("want MechanismUnavailableError, got %v", err)
		}
		want := MechanismUnavailableError{Protocol: "pop3", Host: "127.0.0.1", Port: tg.Port,
			Configured: "PLAIN", Advertised: []string{"LOGIN", "USERPASS"}, Source: "CAPA", SASLIR: false}
		if !equalUnavailable(*unavailable, want) {
			t.Errorf("got %+v, want %+v", *unavailable, want)
		}
		wantReceived(t, got, "CAPA", "QUIT")
	})
}

func TestPOP3DovecotCEmptySASL(t *testing.T) {
	srv := startDialogue(t, false,
		serverSays("+OK Dovecot harness-c ready."),
		clientSends("CAPA", "+OK", "CAPA", "TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE", "STLS", "SASL", "."),
		clientSends("QUIT", "+OK Logging out."),
	)
	tg := dlgTarget(srv, "pop3", TLSPlain, "auto")
	tg.AllowPlaintextAuth = true
	_, err := runDeep(t, tg, 5*time.Second, checkPOP3)
	srv.finish(t)
	var unavailable *MechanismUnavailableError
	if !errors.As(err, &unavailable) || len(unavailable.Advertised) != 0 {
		t.Fatalf("want unavailable with nothing advertised, got %v", err)
	}
}

func TestPOP3WrongPasswordIsFinal(t *testing.T) {
	srv := startDialogue(t, true,
		serverSays(pop3AGreeting),
		clientSends("CAPA", pop3ACapaTLS...),
		clientSends("AUTH PLAIN", "+ "),
		clientSends(testPlainBlob, "-ERR [AUTH] Authentication failed."),
		clientSends("QUIT", "+OK Logging out"),
	)
	res, err := runDeep(t, dlgTarget(srv, "pop3", TLSImplicit, "auto"), 5*time.Second, checkPOP3)
	got := srv.finish(t)
	wantReason(t, err, ReasonAuth)
	if want := "POP3 AUTH PLAIN failed: -ERR [AUTH] Authentication failed."; err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
	// No fallback to LOGIN or USER/PASS.
	wantReceived(t, got, "CAPA", "AUTH PLAIN", testPlainBlob, "QUIT")
	assertNoSecret(t, res, err)
}

func TestPOP3RefusalsAreClassified(t *testing.T) {
	cases := []struct {
		reply string
		want  Reason
	}{
		{"-ERR [SYS/TEMP] Temporary failure", ReasonProtocol},
		{"-ERR invalid password", ReasonAuth},
		{"+ unexpected second challenge", ReasonProtocol},
		{"* garbage", ReasonProtocol},
	}
	for _, tc := range cases {
		t.Run(tc.reply, func(t *testing.T) {
			steps := []dlgStep{
				serverSays(pop3AGreeting),
				clientSends("CAPA", pop3ACapaTLS...),
				clientSends("AUTH PLAIN", "+ "),
				clientSends(testPlainBlob, tc.reply),
			}
			if !strings.HasPrefix(tc.reply, "+") {
				// Inside the SASL exchange a QUIT would be read as a
				// response: none is sent then (deep_goodbye_sasl_test.go).
				steps = append(steps, clientSends("QUIT"))
			}
			srv := startDialogue(t, true, steps...)
			res, err := runDeep(t, dlgTarget(srv, "pop3", TLSImplicit, "PLAIN"), 5*time.Second, checkPOP3)
			srv.finish(t)
			wantReason(t, err, tc.want)
			if !strings.Contains(err.Error(), tc.reply) {
				t.Errorf("error %q does not quote the server line", err)
			}
			assertNoSecret(t, res, err)
		})
	}
}

func TestPOP3PlaintextRefused(t *testing.T) {
	srv := startDialogue(t, false,
		serverSays(pop3AGreeting),
		clientSends("CAPA", pop3ACapa...),
	)
	res, err := runDeep(t, dlgTarget(srv, "pop3", TLSPlain, "auto"), 5*time.Second, checkPOP3)
	got := srv.finish(t)
	wantReason(t, err, ReasonConfig)
	// No USER, PASS or AUTH line reached the server; only the goodbye.
	wantReceived(t, got, "CAPA", "QUIT")
	assertNoSecret(t, res, err)
}

func TestPOP3WithoutCAPA(t *testing.T) {
	t.Run("no credentials: healthy", func(t *testing.T) {
		srv := startDialogue(t, false,
			serverSays("+OK POP3 server ready"),
			clientSends("CAPA", "-ERR unknown command"),
			clientSends("QUIT", "+OK"),
		)
		tg := dlgTarget(srv, "pop3", TLSPlain, "auto")
		tg.Username, tg.Password = "", ""
		_, err := runDeep(t, tg, 5*time.Second, checkPOP3)
		srv.finish(t)
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Run("credentials: nothing advertised", func(t *testing.T) {
		srv := startDialogue(t, true,
			serverSays("+OK POP3 server ready"),
			clientSends("CAPA", "-ERR unknown command"),
			clientSends("QUIT", "+OK"),
		)
		_, err := runDeep(t, dlgTarget(srv, "pop3", TLSImplicit, "USERPASS"), 5*time.Second, checkPOP3)
		got := srv.finish(t)
		wantReason(t, err, ReasonConfig)
		wantReceived(t, got, "CAPA", "QUIT")
	})
}

func TestPOP3StartTLSProblems(t *testing.T) {
	t.Run("STLS not advertised", func(t *testing.T) {
		srv := startDialogue(t, false,
			serverSays(pop3AGreeting),
			clientSends("CAPA", pop3ACapaTLS...),
		)
		_, err := runDeep(t, dlgTarget(srv, "pop3", TLSStartTLS, "auto"), 5*time.Second, checkPOP3)
		got := srv.finish(t)
		wantReason(t, err, ReasonProtocol)
		wantReceived(t, got, "CAPA", "QUIT")
	})
	t.Run("STLS refused", func(t *testing.T) {
		srv := startDialogue(t, false,
			serverSays(pop3AGreeting),
			clientSends("CAPA", pop3ACapa...),
			clientSends("STLS", "-ERR TLS support isn't enabled."),
		)
		_, err := runDeep(t, dlgTarget(srv, "pop3", TLSStartTLS, "auto"), 5*time.Second, checkPOP3)
		wantReceived(t, srv.finish(t), "CAPA", "STLS", "QUIT")
		wantReason(t, err, ReasonProtocol)
		if want := "POP3 STLS command failed, response: -ERR TLS support isn't enabled."; err.Error() != want {
			t.Errorf("error = %q, want %q", err, want)
		}
	})
	t.Run("bad greeting", func(t *testing.T) {
		srv := startDialogue(t, false, serverSays("-ERR [SYS/TEMP] Too many connections"))
		_, err := runDeep(t, dlgTarget(srv, "pop3", TLSStartTLS, "auto"), 5*time.Second, checkPOP3)
		wantReceived(t, srv.finish(t), "QUIT")
		wantReason(t, err, ReasonProtocol)
		if want := "POP3 greeting failed, response: -ERR [SYS/TEMP] Too many connections"; err.Error() != want {
			t.Errorf("error = %q, want %q", err, want)
		}
	})
}

func TestParsePOP3Capa(t *testing.T) {
	lines, err := readPOP3List(lineSource("USER", "..weird", "sasl plain Login cram-md5 USERPASS", "STLS", "."))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"USER", ".weird", "sasl plain Login cram-md5 USERPASS", "STLS"}; !slices.Equal(lines, want) {
		t.Errorf("lines = %q, want %q", lines, want)
	}
	caps := parsePOP3Capa(lines)
	adv := advertised{Mechs: caps.mechs}
	if got, want := adv.names(), []string{"CRAM-MD5", "LOGIN", "PLAIN", "USERPASS"}; !slices.Equal(got, want) {
		t.Errorf("mechanisms = %v, want %v", got, want)
	}
	if !caps.stls {
		t.Error("STLS not seen")
	}
	// USERPASS comes only from the USER line, not from a SASL list.
	if parsePOP3Capa([]string{"SASL PLAIN USERPASS"}).mechs["USERPASS"] {
		t.Error("USERPASS taken from the SASL list")
	}
}

// lineSource feeds the parsers without a connection.
func lineSource(lines ...string) func() (string, error) {
	return func() (string, error) {
		if len(lines) == 0 {
			return "", errors.New("no more lines")
		}
		l := lines[0]
		lines = lines[1:]
		return l, nil
	}
}
