package integration

import (
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/testfixture"
)

// TestDovecotLuaPassdbRefusedCredentials: a login backline refuses before
// the password check (here an empty password, which Dovecot passes on;
// its login processes cut a user name long before backline's 1024 bytes)
// is a failed login for the fixture's Dovecot Lua passdb, which maps 403 to
// PASSWORD_MISMATCH and anything else to an internal failure, as
// Nauthilus's documented script does. Before, backline answered 400
// without Auth-Status: the client got "[UNAVAILABLE] Temporary
// authentication failure" and Dovecot logged an internal error for a
// password the user simply left empty.
func TestDovecotLuaPassdbRefusedCredentials(t *testing.T) {
	f := testfixture.Load(t)
	proxyIMAP, proxyPOP3 := f.Addr("DOVECOT_PROXY_IMAP"), f.Addr("DOVECOT_PROXY_POP3")
	startProxyBackline(t, f)
	logStart := len(f.ReadLog("DOVECOT_PROXY"))

	t.Run("IMAP empty password", func(t *testing.T) {
		l := imapLogin(t, proxyIMAP, f.AliceUser, "", "NO")
		if !strings.Contains(l, "[AUTHENTICATIONFAILED]") {
			t.Errorf("IMAP LOGIN: %q, want NO [AUTHENTICATIONFAILED] (a failed login, not a temporary failure)", l)
		}
	})
	t.Run("POP3 empty password", func(t *testing.T) {
		if l := pop3Login(t, proxyPOP3, f.AliceUser, "", "-ERR"); strings.Contains(l, "[SYS/TEMP]") {
			t.Errorf("POP3 PASS: %q, want a plain -ERR (not [SYS/TEMP])", l)
		}
	})

	// The script logs a password mismatch for each, and never an internal
	// failure ("backline answered HTTP ...").
	var seen string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		seen = f.ReadLog("DOVECOT_PROXY")[logStart:]
		if strings.Count(seen, "Password mismatch") >= 2 || time.Now().After(deadline) {
			break
		}
	}
	if n := strings.Count(seen, "Password mismatch"); n != 2 {
		t.Errorf("the proxy logged %d password mismatches, want 2:\n%s", n, seen)
	}
	if strings.Contains(seen, "backline answered HTTP") || strings.Contains(seen, "nternal") {
		t.Errorf("the proxy logged an internal failure:\n%s", seen)
	}
	if strings.Contains(seen, f.AlicePassword) {
		t.Error("the proxy logged the password")
	}
}
