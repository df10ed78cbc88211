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
	dovecotAGreeting = "220 dovecot-a.harness.test Dovecot harness-a ready."
	dovecotAEhloTLS  = []string{
		"250-dovecot-a.harness.test", "250-8BITMIME", "250-AUTH PLAIN LOGIN", "250-BURL imap",
		"250-CHUNKING", "250-ENHANCEDSTATUSCODES", "250-SIZE", "250 PIPELINING",
	}
	dovecotAEhloPlain = []string{
		"250-dovecot-a.harness.test", "250-8BITMIME", "250-AUTH PLAIN LOGIN", "250-BURL imap",
		"250-CHUNKING", "250-ENHANCEDSTATUSCODES", "250-SIZE", "250-STARTTLS", "250 PIPELINING",
	}
	dovecotDGreeting = "220 dovecot-d.harness.test Dovecot harness-d ready."
	dovecotDEhlo     = []string{
		"250-dovecot-d.harness.test", "250-8BITMIME", "250-AUTH LOGIN", "250-BURL imap",
		"250-CHUNKING", "250-ENHANCEDSTATUSCODES", "250-SIZE", "250-STARTTLS", "250 PIPELINING",
	}
	aiosmtpdGreeting  = "220 smtp-auth.harness.test Python SMTP 1.4.3"
	aiosmtpdEhloPlain = []string{"250-smtp-auth.harness.test", "250-SIZE 33554432", "250-8BITMIME", "250-STARTTLS", "250 HELP"}
	aiosmtpdEhloTLS   = []string{"250-smtp-auth.harness.test", "250-SIZE 33554432", "250-8BITMIME", "250-AUTH LOGIN PLAIN", "250 HELP"}
	dovecotLHLO       = []string{
		"250-dovecot-a.harness.test", "250-8BITMIME", "250-CHUNKING", "250-ENHANCEDSTATUSCODES",
		"250-PIPELINING", "250 STARTTLS",
	}
	aiosmtpdLMTPGreeting = "220 lmtp-auth.harness.test Python SMTP 1.4.3"
	aiosmtpdLHLO         = []string{"250-lmtp-auth.harness.test", "250-SIZE 33554432", "250-8BITMIME", "250-AUTH LOGIN PLAIN", "250 HELP"}
)

const ehlo = "EHLO localhost.localdomain"

func TestSMTPDovecotASubmissionStartTLSPlainIR(t *testing.T) {
	srv := startDialogue(t, false,
		serverSays(dovecotAGreeting),
		clientSends(ehlo, dovecotAEhloPlain...),
		dlgStep{expect: "STARTTLS", reply: []string{"220 2.0.0 Begin TLS negotiation now."}, startTLS: true},
		clientSends(ehlo, dovecotAEhloTLS...),
		clientSends("AUTH PLAIN "+testPlainBlob, "235 2.7.0 Logged in."),
		clientSends("QUIT", "221 2.0.0 Bye"),
	)
	res, err := runDeep(t, dlgTarget(srv, "smtp", TLSStartTLS, "auto"), 5*time.Second, checkSMTP)
	srv.finish(t)
	if err != nil {
		t.Fatalf("check failed: %v\n%s", err, strings.Join(res.Transcript, "\n"))
	}
	if res.Mechanism != "PLAIN-IR" {
		t.Errorf("mechanism = %q, want PLAIN-IR", res.Mechanism)
	}
	if res.CertNotAfter.IsZero() {
		t.Error("certificate expiry not recorded after STARTTLS")
	}
	wantSteps(t, res, "greeting", "capabilities", "starttls", "capabilities", "auth", "logout")
	if !slices.Contains(res.Transcript, "C: AUTH PLAIN <redacted>") {
		t.Errorf("transcript lacks the redacted AUTH line: %q", res.Transcript)
	}
	assertNoSecret(t, res, err)
}

func TestSMTPImplicitTLSVariants(t *testing.T) {
	greetAndEhlo := []dlgStep{serverSays(dovecotAGreeting), clientSends(ehlo, dovecotAEhloTLS...)}
	cases := []struct {
		name, mechanism, wantMech string
		steps                     []dlgStep
	}{
		{"LOGIN with initial response", "LOGIN", "LOGIN-IR", []dlgStep{
			clientSends("AUTH LOGIN "+dlgUserB64, "334 UGFzc3dvcmQ6"),
			clientSends(dlgPassB64, "235 2.7.0 Logged in."),
		}},
		{"LOGIN classic after the initial response is refused", "LOGIN", "LOGIN", []dlgStep{
			clientSends("AUTH LOGIN "+dlgUserB64, "501 5.5.4 Invalid parameters"),
			clientSends("AUTH LOGIN", "334 VXNlcm5hbWU6"),
			clientSends(dlgUserB64, "334 UGFzc3dvcmQ6"),
			clientSends(dlgPassB64, "235 2.7.0 Logged in."),
		}},
		{"PLAIN classic after the initial response is refused", "PLAIN", "PLAIN", []dlgStep{
			clientSends("AUTH PLAIN "+testPlainBlob, "500 5.5.2 Line too long"),
			clientSends("AUTH PLAIN", "334 "),
			clientSends(testPlainBlob, "235 2.7.0 Logged in."),
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			steps := append(append(slices.Clone(greetAndEhlo), tc.steps...), clientSends("QUIT", "221 2.0.0 Bye"))
			srv := startDialogue(t, true, steps...)
			res, err := runDeep(t, dlgTarget(srv, "smtp", TLSImplicit, tc.mechanism), 5*time.Second, checkSMTP)
			srv.finish(t)
			if err != nil {
				t.Fatalf("check failed: %v\n%s", err, strings.Join(res.Transcript, "\n"))
			}
			if res.Mechanism != tc.wantMech {
				t.Errorf("mechanism = %q, want %q", res.Mechanism, tc.wantMech)
			}
			assertNoSecret(t, res, err)
		})
	}
}

func TestSMTPInitialResponseFallbackIsRecorded(t *testing.T) {
	srv := startDialogue(t, true,
		serverSays(dovecotAGreeting),
		clientSends(ehlo, dovecotAEhloTLS...),
		clientSends("AUTH PLAIN "+testPlainBlob, "501 5.5.2 Syntax error"),
		clientSends("AUTH PLAIN", "334 "),
		clientSends(testPlainBlob, "235 2.7.0 Logged in."),
		clientSends("QUIT", "221 2.0.0 Bye"),
	)
	res, err := runDeep(t, dlgTarget(srv, "smtp", TLSImplicit, "auto"), 5*time.Second, checkSMTP)
	srv.finish(t)
	if err != nil {
		t.Fatal(err)
	}
	wantSteps(t, res, "greeting", "capabilities", "auth_initial_response_rejected", "auth", "logout")
	if !slices.Contains(res.Transcript, "-- initial response rejected (501 5.5.2 Syntax error); falling back to classic exchange") {
		t.Errorf("fallback not in transcript: %q", res.Transcript)
	}
}

func TestSMTPSecondRejectionFails(t *testing.T) {
	srv := startDialogue(t, true,
		serverSays(dovecotAGreeting),
		clientSends(ehlo, dovecotAEhloTLS...),
		clientSends("AUTH PLAIN "+testPlainBlob, "501 5.5.2 Syntax error"),
		clientSends("AUTH PLAIN", "501 5.5.2 Syntax error again"),
		clientSends("QUIT", "221 2.0.0 Bye"),
	)
	res, err := runDeep(t, dlgTarget(srv, "smtp", TLSImplicit, "auto"), 5*time.Second, checkSMTP)
	got := srv.finish(t)
	wantReason(t, err, ReasonProtocol)
	if want := "SMTP AUTH PLAIN failed: 501 5.5.2 Syntax error again"; err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
	wantReceived(t, got, ehlo, "AUTH PLAIN "+testPlainBlob, "AUTH PLAIN", "QUIT")
	assertNoSecret(t, res, err)
}

func TestSMTPWrongPasswordIsFinal(t *testing.T) {
	srv := startDialogue(t, true,
		serverSays(dovecotAGreeting),
		clientSends(ehlo, dovecotAEhloTLS...),
		clientSends("AUTH PLAIN "+testPlainBlob, "535 5.7.8 Authentication failed."),
		clientSends("QUIT", "221 2.0.0 Bye"),
	)
	res, err := runDeep(t, dlgTarget(srv, "smtp", TLSImplicit, "auto"), 5*time.Second, checkSMTP)
	got := srv.finish(t)
	wantReason(t, err, ReasonAuth)
	if want := "SMTP AUTH PLAIN failed: 535 5.7.8 Authentication failed."; err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
	// No second mechanism (LOGIN is advertised too) and no classic retry.
	wantReceived(t, got, ehlo, "AUTH PLAIN "+testPlainBlob, "QUIT")
	assertNoSecret(t, res, err)
}

func TestSMTPRefusalsAreClassified(t *testing.T) {
	cases := []struct {
		reply string
		want  Reason
	}{
		{"504 5.5.4 Unsupported authentication mechanism.", ReasonConfig},
		{"523 5.7.10 Plaintext authentication disabled.", ReasonConfig},
		{"538 5.7.11 Encryption required for requested authentication mechanism", ReasonConfig},
		{"454 4.7.0 Temporary authentication failure", ReasonAuth},
		{"421 4.3.2 Service shutting down", ReasonProtocol},
		{"250 2.0.0 OK", ReasonProtocol},
	}
	for _, tc := range cases {
		t.Run(tc.reply, func(t *testing.T) {
			srv := startDialogue(t, true,
				serverSays(dovecotAGreeting),
				clientSends(ehlo, dovecotAEhloTLS...),
				clientSends("AUTH PLAIN "+testPlainBlob, tc.reply),
			)
			res, err := runDeep(t, dlgTarget(srv, "smtp", TLSImplicit, "PLAIN"), 5*time.Second, checkSMTP)
			sent := []string{ehlo, "AUTH PLAIN " + testPlainBlob, "QUIT"}
			if strings.HasPrefix(tc.reply, "421 ") {
				sent = sent[:2] // the server closes after 421 and reads no QUIT
			}
			wantReceived(t, srv.finish(t), sent...)
			wantReason(t, err, tc.want)
			if !strings.Contains(err.Error(), tc.reply) {
				t.Errorf("error %q does not quote the server line", err)
			}
			assertNoSecret(t, res, err)
		})
	}
}

func TestSMTPDovecotDLoginOnly(t *testing.T) {
	t.Run("auto picks LOGIN with initial response", func(t *testing.T) {
		srv := startDialogue(t, true,
			serverSays(dovecotDGreeting),
			clientSends(ehlo, dovecotDEhlo...),
			clientSends("AUTH LOGIN "+dlgUserB64, "334 UGFzc3dvcmQ6"),
			clientSends(dlgPassB64, "235 2.7.0 Logged in."),
			clientSends("QUIT", "221 2.0.0 Bye"),
		)
		res, err := runDeep(t, dlgTarget(srv, "smtp", TLSImplicit, "auto"), 5*time.Second, checkSMTP)
		srv.finish(t)
		if err != nil {
			t.Fatal(err)
		}
		if res.Mechanism != "LOGIN-IR" {
			t.Errorf("mechanism = %q", res.Mechanism)
		}
		assertNoSecret(t, res, err)
	})
	t.Run("explicit PLAIN is unavailable", func(t *testing.T) {
		srv := startDialogue(t, true,
			serverSays(dovecotDGreeting),
			clientSends(ehlo, dovecotDEhlo...),
			clientSends("QUIT", "221 2.0.0 Bye"),
		)
		tg := dlgTarget(srv, "smtp", TLSImplicit, "PLAIN")
		_, err := runDeep(t, tg, 5*time.Second, checkSMTP)
		got := srv.finish(t)
		var unavailable *MechanismUnavailableError
		if !errors.As(err, &unavailable) {
			t.Fatalf("want MechanismUnavailableError, got %T %v", err, err)
		}
		want := MechanismUnavailableError{Protocol: "smtp", Host: "127.0.0.1", Port: tg.Port,
			Configured: "PLAIN", Advertised: []string{"LOGIN"}, Source: "EHLO", SASLIR: true}
		if !equalUnavailable(*unavailable, want) {
			t.Errorf("got %+v, want %+v", *unavailable, want)
		}
		wantReceived(t, got, ehlo, "QUIT")
	})
}

func equalUnavailable(a, b MechanismUnavailableError) bool {
	return a.Protocol == b.Protocol && a.Host == b.Host && a.Port == b.Port && a.Configured == b.Configured &&
		slices.Equal(a.Advertised, b.Advertised) && a.Source == b.Source && a.SASLIR == b.SASLIR
}

func TestSMTPAiosmtpdAuthOnlyAfterTLS(t *testing.T) {
	t.Run("starttls: capabilities are read again", func(t *testing.T) {
		srv := startDialogue(t, false,
			serverSays(aiosmtpdGreeting),
			clientSends(ehlo, aiosmtpdEhloPlain...),
			dlgStep{expect: "STARTTLS", reply: []string{"220 Ready to start TLS"}, startTLS: true},
			clientSends(ehlo, aiosmtpdEhloTLS...),
			clientSends("AUTH PLAIN "+testPlainBlob, "235 2.7.0 Authentication successful"),
			clientSends("QUIT", "221 Bye"),
		)
		res, err := runDeep(t, dlgTarget(srv, "smtp", TLSStartTLS, "auto"), 5*time.Second, checkSMTP)
		srv.finish(t)
		if err != nil {
			t.Fatalf("%v\n%s", err, strings.Join(res.Transcript, "\n"))
		}
	})
	t.Run("plain (opted in): no AUTH advertised", func(t *testing.T) {
		srv := startDialogue(t, false,
			serverSays(aiosmtpdGreeting),
			clientSends(ehlo, aiosmtpdEhloPlain...),
			clientSends("QUIT", "221 Bye"),
		)
		tg := dlgTarget(srv, "smtp", TLSPlain, "auto")
		tg.AllowPlaintextAuth = true
		_, err := runDeep(t, tg, 5*time.Second, checkSMTP)
		srv.finish(t)
		var unavailable *MechanismUnavailableError
		if !errors.As(err, &unavailable) || len(unavailable.Advertised) != 0 || unavailable.Configured != "auto" {
			t.Fatalf("want unavailable with nothing advertised, got %v", err)
		}
	})
}

func TestSMTPStartTLSNotAdvertised(t *testing.T) {
	srv := startDialogue(t, false,
		serverSays(dovecotAGreeting),
		clientSends(ehlo, dovecotAEhloTLS...),
	)
	res, err := runDeep(t, dlgTarget(srv, "smtp", TLSStartTLS, "auto"), 5*time.Second, checkSMTP)
	got := srv.finish(t)
	wantReason(t, err, ReasonProtocol)
	wantReceived(t, got, ehlo, "QUIT")
	assertNoSecret(t, res, err)
}

func TestSMTPEmptyAuthListDovecotC(t *testing.T) {
	srv := startDialogue(t, false,
		serverSays("220 dovecot-c.harness.test Dovecot harness-c ready."),
		clientSends(ehlo, "250-dovecot-c.harness.test", "250-8BITMIME", "250-AUTH ", "250-STARTTLS", "250 PIPELINING"),
		clientSends("QUIT", "221 2.0.0 Bye"),
	)
	tg := dlgTarget(srv, "smtp", TLSPlain, "auto")
	tg.AllowPlaintextAuth = true
	_, err := runDeep(t, tg, 5*time.Second, checkSMTP)
	srv.finish(t)
	var unavailable *MechanismUnavailableError
	if !errors.As(err, &unavailable) || len(unavailable.Advertised) != 0 {
		t.Fatalf("want unavailable with an empty list, got %v", err)
	}
}

func TestSMTPPlaintextRefused(t *testing.T) {
	srv := startDialogue(t, false,
		serverSays(dovecotAGreeting),
		clientSends(ehlo, dovecotAEhloPlain...),
	)
	res, err := runDeep(t, dlgTarget(srv, "smtp", TLSPlain, "auto"), 5*time.Second, checkSMTP)
	got := srv.finish(t)
	wantReason(t, err, ReasonConfig)
	// Nothing after EHLO but the goodbye: no AUTH verb.
	wantReceived(t, got, ehlo, "QUIT")
	assertNoSecret(t, res, err)
}

func TestSMTPWithoutCredentialsStopsAfterEHLO(t *testing.T) {
	srv := startDialogue(t, false,
		serverSays("220-dovecot-a.harness.test first greeting line", dovecotAGreeting),
		clientSends(ehlo, dovecotAEhloPlain...),
		clientSends("QUIT", "221 2.0.0 Bye"),
	)
	tg := dlgTarget(srv, "smtp", TLSPlain, "auto")
	tg.Username, tg.Password = "", ""
	res, err := runDeep(t, tg, 5*time.Second, checkSMTP)
	srv.finish(t)
	if err != nil {
		t.Fatal(err)
	}
	if res.Mechanism != "" {
		t.Errorf("mechanism = %q without credentials", res.Mechanism)
	}
}

func TestSMTPGreetingAndEHLOFailures(t *testing.T) {
	t.Run("554 greeting", func(t *testing.T) {
		srv := startDialogue(t, false, serverSays("554 5.3.2 No SMTP service here"))
		_, err := runDeep(t, dlgTarget(srv, "smtp", TLSPlain, "auto"), 5*time.Second, checkSMTP)
		srv.finish(t)
		wantReason(t, err, ReasonProtocol)
		if want := "SMTP greeting failed, response: 554 5.3.2 No SMTP service here"; err.Error() != want {
			t.Errorf("error = %q, want %q", err, want)
		}
	})
	t.Run("EHLO refused", func(t *testing.T) {
		srv := startDialogue(t, true,
			serverSays(dovecotAGreeting),
			clientSends(ehlo, "502 5.5.1 Unsupported command"),
		)
		_, err := runDeep(t, dlgTarget(srv, "smtp", TLSImplicit, "auto"), 5*time.Second, checkSMTP)
		srv.finish(t)
		wantReason(t, err, ReasonProtocol)
		if want := "SMTP EHLO failed, response: 502 5.5.1 Unsupported command"; err.Error() != want {
			t.Errorf("error = %q, want %q", err, want)
		}
	})
	t.Run("error line inside an EHLO reply", func(t *testing.T) {
		srv := startDialogue(t, true,
			serverSays(dovecotAGreeting),
			clientSends(ehlo, "250-dovecot-a.harness.test", "451-temporary trouble", "250 PIPELINING"),
		)
		_, err := runDeep(t, dlgTarget(srv, "smtp", TLSImplicit, "auto"), 5*time.Second, checkSMTP)
		srv.finish(t)
		wantReason(t, err, ReasonProtocol)
		if !strings.Contains(err.Error(), "451-temporary trouble") {
			t.Errorf("error = %q", err)
		}
	})
}

func TestLMTPDovecotWithoutAuth(t *testing.T) {
	lhlo := "LHLO localhost.localdomain"
	t.Run("no credentials: reachability and capabilities", func(t *testing.T) {
		srv := startDialogue(t, false,
			serverSays(dovecotAGreeting),
			clientSends(lhlo, dovecotLHLO...),
			clientSends("QUIT", "221 2.0.0 Bye"),
		)
		tg := dlgTarget(srv, "lmtp", TLSPlain, "auto")
		tg.Username, tg.Password = "", ""
		res, err := runDeep(t, tg, 5*time.Second, checkLMTP)
		srv.finish(t)
		if err != nil {
			t.Fatal(err)
		}
		wantSteps(t, res, "greeting", "capabilities", "logout")
	})
	t.Run("credentials but no AUTH", func(t *testing.T) {
		srv := startDialogue(t, false,
			serverSays(dovecotAGreeting),
			clientSends(lhlo, dovecotLHLO...),
			dlgStep{expect: "STARTTLS", reply: []string{"220 2.0.0 Begin TLS negotiation now."}, startTLS: true},
			clientSends(lhlo, "250-dovecot-a.harness.test", "250-8BITMIME", "250-CHUNKING",
				"250-ENHANCEDSTATUSCODES", "250 PIPELINING"),
			clientSends("QUIT", "221 2.0.0 Bye"),
		)
		tg := dlgTarget(srv, "lmtp", TLSStartTLS, "auto")
		_, err := runDeep(t, tg, 5*time.Second, checkLMTP)
		srv.finish(t)
		var unavailable *MechanismUnavailableError
		if !errors.As(err, &unavailable) || unavailable.Source != "LHLO" || unavailable.Protocol != "lmtp" {
			t.Fatalf("want unavailable from LHLO, got %v", err)
		}
	})
}

func TestLMTPAiosmtpdWithAuth(t *testing.T) {
	lhlo := "LHLO localhost.localdomain"
	t.Run("PLAIN with initial response", func(t *testing.T) {
		srv := startDialogue(t, true,
			serverSays(aiosmtpdLMTPGreeting),
			clientSends(lhlo, aiosmtpdLHLO...),
			clientSends("AUTH PLAIN "+testPlainBlob, "235 2.7.0 Authentication successful"),
			clientSends("QUIT", "221 Bye"),
		)
		res, err := runDeep(t, dlgTarget(srv, "lmtp", TLSImplicit, "auto"), 5*time.Second, checkLMTP)
		srv.finish(t)
		if err != nil {
			t.Fatal(err)
		}
		assertNoSecret(t, res, err)
	})
	t.Run("LOGIN classic with aiosmtpd's challenges", func(t *testing.T) {
		srv := startDialogue(t, true,
			serverSays(aiosmtpdLMTPGreeting),
			clientSends(lhlo, aiosmtpdLHLO...),
			clientSends("AUTH LOGIN "+dlgUserB64, "500 5.5.2 Error: bad syntax"),
			clientSends("AUTH LOGIN", "334 VXNlciBOYW1lAA=="),
			clientSends(dlgUserB64, "334 UGFzc3dvcmQA"),
			clientSends(dlgPassB64, "235 2.7.0 Authentication successful"),
			clientSends("QUIT", "221 Bye"),
		)
		res, err := runDeep(t, dlgTarget(srv, "lmtp", TLSImplicit, "LOGIN"), 5*time.Second, checkLMTP)
		srv.finish(t)
		if err != nil {
			t.Fatalf("%v\n%s", err, strings.Join(res.Transcript, "\n"))
		}
		if res.Mechanism != "LOGIN" {
			t.Errorf("mechanism = %q", res.Mechanism)
		}
		assertNoSecret(t, res, err)
	})
}

func TestSMTPEchoedSecretIsRedacted(t *testing.T) {
	srv := startDialogue(t, true,
		serverSays(dovecotAGreeting),
		clientSends(ehlo, dovecotAEhloTLS...),
		clientSends("AUTH PLAIN "+testPlainBlob, "535 5.7.8 bad "+testPlainBlob+" for "+testPassword),
		clientSends("QUIT"),
	)
	res, err := runDeep(t, dlgTarget(srv, "smtp", TLSImplicit, "auto"), 5*time.Second, checkSMTP)
	srv.finish(t)
	wantReason(t, err, ReasonAuth)
	assertNoSecret(t, res, err)
}

func wantSteps(t *testing.T, res Result, names ...string) {
	t.Helper()
	var got []string
	for _, st := range res.Steps {
		got = append(got, st.Name)
	}
	if !slices.Equal(got, names) {
		t.Errorf("steps = %v, want %v", got, names)
	}
}
