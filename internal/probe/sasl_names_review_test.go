package probe

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// Mechanism names real servers advertise, in the case they send them,
// stay advertised through every parser: Dovecot (XOAUTH2, OAUTHBEARER,
// SCRAM-SHA-256-PLUS, GSS-SPNEGO), Cyrus (CRAM-MD5, DIGEST-MD5, GSSAPI),
// Exchange (NTLM, GSSAPI, XOAUTH2), Gmail (XOAUTH, PLAIN-CLIENTTOKEN) and a
// server that writes them in lower case.
func TestReviewRealServersMechanismNamesKept(t *testing.T) {
	real := []string{"PLAIN", "LOGIN", "XOAUTH2", "OAUTHBEARER", "GSS-SPNEGO", "GSSAPI", "NTLM",
		"SCRAM-SHA-1", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-256-PLUS", "SCRAM-SHA-512-PLUS",
		"CRAM-MD5", "DIGEST-MD5", "EXTERNAL", "ANONYMOUS", "XOAUTH", "PLAIN-CLIENTTOKEN", "OTP", "EXTERNAL"}
	want := slices.Compact(slices.Sorted(slices.Values(real)))

	var imap imapCaps
	var imapList []string
	for _, m := range real {
		imapList = append(imapList, "AUTH="+strings.ToLower(m))
	}
	if err := imap.add("IMAP4rev1 SASL-IR " + strings.Join(imapList, " ")); err != nil {
		t.Fatal(err)
	}
	if got := (advertised{Mechs: imap.mechs}).names(); !slices.Equal(got, want) {
		t.Errorf("IMAP kept %q, want %q", got, want)
	}

	smtp := parseSMTPCaps([]string{"mx.example", "AUTH " + strings.Join(real, " "), "auth=login plain"})
	if got := (advertised{Mechs: smtp.mechs}).names(); !slices.Equal(got, want) {
		t.Errorf("SMTP kept %q, want %q", got, want)
	}
	pop := parsePOP3Capa([]string{"SASL " + strings.ToLower(strings.Join(real, " "))})
	if got := (advertised{Mechs: pop.mechs}).names(); !slices.Equal(got, want) {
		t.Errorf("POP3 kept %q, want %q", got, want)
	}
}

// Bug: addMechs upper-cased with strings.ToUpper before checking the
// name, and Unicode case mapping turns non-ASCII letters into ASCII ones
// ('ı' U+0131 into 'I', 'ſ' U+017F into 'S'). "AUTH=PLAıN" was taken as
// PLAIN, so the probe sent AUTHENTICATE PLAIN to a server that never
// advertised it, though the docs say a word with non-ASCII bytes is
// ignored.
func TestReviewNonASCIINamesDoNotFoldIntoASCIIMechanisms(t *testing.T) {
	mechs := map[string]bool{}
	addMechs(mechs, []string{"plaın", "PLAıN", "ſcram-sha-1", "loGİN", "LOGıN"})
	if len(mechs) != 0 {
		t.Errorf("non-ASCII names became %v", (advertised{Mechs: mechs}).names())
	}

	var caps imapCaps
	if err := caps.add("IMAP4rev1 AUTH=PLAıN"); err != nil {
		t.Fatal(err)
	}
	if caps.mechs["PLAIN"] {
		t.Error("IMAP AUTH=PLAıN advertised PLAIN")
	}
}

// Bug: ManageSieve's "SASL" capability did not go through addMechs, so a
// name with control characters or non-SASL bytes was kept: it could be
// chosen (USERPASS, BASIC) and it reached the "auth mechanism unavailable"
// ERROR log raw, though docs/operations.md says only SASL names count.
func TestReviewSieveMechanismNamesAreSASLNames(t *testing.T) {
	caps := parseSieveCaps([][]sieveToken{{{true, "SASL"}, {true, "plain \x1b[2JX LO\x00GIN USERPASS BASIC " + strings.Repeat("A", 21) + " ÄÖ xoauth2"}}})
	got := (advertised{Mechs: caps.mechs}).names()
	if want := []string{"PLAIN", "XOAUTH2"}; !slices.Equal(got, want) {
		t.Errorf("sieve mechanisms = %q, want %q", got, want)
	}
}

// Not a test of speed (no threshold): logs what 256 KiB of hostile
// capability lists cost, for the review's report.
func TestReviewCapabilityListsLargeInputCost(t *testing.T) {
	for _, unit := range []string{"AUTH=X ", "AUTH=PLAIN ", "AUTH=" + strings.Repeat("A", 30) + " ", "AUTH=ſ ", "x "} {
		list := strings.Repeat(unit, (maxResponseBytes-1)/len(unit))
		start := time.Now()
		var caps imapCaps
		err := caps.add(list)
		imapTook := time.Since(start)
		start = time.Now()
		parseSMTPCaps([]string{"mx", "AUTH " + list})
		t.Logf("%-12q x %d (%d bytes): IMAP %v (err %v, %d names), SMTP %v", unit, len(list)/len(unit), len(list), imapTook, err, len(caps.mechs), time.Since(start))
	}
}

// IMAP AUTH=USERPASS is no mechanism: IMAP logs in with AUTHENTICATE only
// (PLAIN, LOGIN; the spec takes nothing else from CAPABILITY), and
// USERPASS is POP3's USER/PASS. Before addMechs, auto picked it (its
// place in the auto order is before BASIC) and the check failed with the
// misleading "IMAP has no USERPASS login"; now the server offers nothing
// the probe can run, and says so with what it did offer.
func TestReviewIMAPUserPassIsNotAMechanism(t *testing.T) {
	srv := startFake(t, script(
		"S: * OK [CAPABILITY IMAP4rev1 AUTH=USERPASS AUTH=CRAM-MD5] ready",
		"C: a1 LOGOUT",
	))
	tg := newTarget(t, "imap", srv, TLSPlain)
	tg.AllowPlaintextAuth = true
	res := deep(t, tg)
	expectFail(t, res, ReasonConfig, "advertised=CRAM-MD5")
}
