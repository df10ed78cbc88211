package probe

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// Bug: IMAP kept every AUTH= token of every untagged CAPABILITY line of a
// response, without the byte bound POP3 CAPA lists, SMTP replies and
// ManageSieve responses have: up to maxResponseLines lines of maxLine bytes
// (64 MiB) of distinct mechanism names a check. CAPABILITY lists now keep
// at most maxResponseBytes, and mechanism names go through addMechs like
// those of SMTP and POP3 (SASL names only, RFC 4422 §3.1).

// authTokens is n distinct AUTH= tokens, about 11 bytes each.
func authTokens(from, n int) string {
	words := make([]string, n)
	for i := range words {
		words[i] = fmt.Sprintf("AUTH=X%05d", from+i)
	}
	return strings.Join(words, " ")
}

func TestIMAPCapabilityListsKeepABoundedNumberOfBytes(t *testing.T) {
	var caps imapCaps
	line := authTokens(0, 5000) // 55 KiB, under maxLine
	var err error
	for i := 0; i < 10 && err == nil; i++ {
		err = caps.add(line)
	}
	if !errors.Is(err, errResponseTooLong) {
		t.Fatalf("err = %v after %d bytes of lists; want errResponseTooLong", err, caps.listBytes)
	}
	if caps.listBytes > maxResponseBytes+len(line) {
		t.Errorf("kept %d bytes, bound is %d", caps.listBytes, maxResponseBytes)
	}

	// Duplicates count by their bytes too, though they add no name.
	var dup imapCaps
	same := strings.TrimSpace(strings.Repeat("AUTH=PLAIN ", 5000))
	err = nil
	for i := 0; i < 10 && err == nil; i++ {
		err = dup.add(same)
	}
	if !errors.Is(err, errResponseTooLong) {
		t.Fatalf("duplicated tokens: err = %v; want errResponseTooLong", err)
	}
	if len(dup.mechs) != 1 || !dup.mechs["PLAIN"] {
		t.Errorf("duplicated tokens kept %v", dup.mechs)
	}
}

func TestIMAPHugeCapabilityResponseIsRefused(t *testing.T) {
	steps := []string{"S: * OK ready", "C: a1 CAPABILITY"}
	for i := range 6 {
		steps = append(steps, "S: * CAPABILITY IMAP4rev1 "+authTokens(i*5000, 5000))
	}
	steps = append(steps, "S: a1 OK done", "C: a2 LOGOUT")
	srv := startFake(t, script(steps...))
	res := deep(t, newTarget(t, "imap", srv, TLSPlain))
	expectFail(t, res, ReasonProtocol, "server response longer than")
}

// Names holding control characters (or any byte a SASL name cannot have)
// are not mechanisms: they are dropped, so they can neither be chosen nor
// reach the "mechanism unavailable" ERROR log raw. AUTH=USERPASS is not a
// SASL mechanism either. Duplicates, in any case, are one name.
func TestIMAPCapabilityMechanismNamesAreSASLNames(t *testing.T) {
	var caps imapCaps
	if err := caps.add("IMAP4rev1 AUTH=PL\x00AIN AUTH=\x1b[31mX AUTH=LO\x7fGIN AUTH=plain AUTH=PLAIN AUTH=USERPASS AUTH= AUTH=" +
		strings.Repeat("A", 21) + " AUTH=SCRAM-SHA-256 AUTH=X_OAUTH2 AUTH=ÄÖ"); err != nil {
		t.Fatal(err)
	}
	got := advertised{Mechs: caps.mechs}.names()
	if want := []string{"PLAIN", "SCRAM-SHA-256", "X_OAUTH2"}; !slices.Equal(got, want) {
		t.Errorf("mechanisms = %q, want %q", got, want)
	}

	srv := startFake(t, script(
		"S: * OK ready",
		"C: a1 CAPABILITY",
		"S: * CAPABILITY IMAP4rev1 AUTH=\x1b[2JLOGIN AUTH=PL\x00AIN AUTH=LOG\x7fIN",
		"S: * CAPABILITY IMAP4rev1 AUTH=LOGIN",
		"S: * CAPABILITY IMAP4rev1 AUTH=LOGIN",
		"S: a1 OK done",
		"C: a2 LOGOUT",
	))
	tg := newTarget(t, "imap", srv, TLSPlain)
	tg.AllowPlaintextAuth = true
	tg.Mechanism = "PLAIN"
	res := deep(t, tg)
	expectFail(t, res, ReasonConfig, "advertised=LOGIN")
	var me *MechanismUnavailableError
	if !errors.As(res.Err, &me) || !slices.Equal(me.Advertised, []string{"LOGIN"}) {
		t.Errorf("err = %#v; want LOGIN advertised once, nothing else", res.Err)
	}
}
