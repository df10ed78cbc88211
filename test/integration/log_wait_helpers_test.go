package integration

import (
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/testfixture"
)

// logWaitLimit bounds every wait for a fixture server's log line. Dovecot
// and nginx write their logs through separate processes, so a line can
// appear after the client already has its answer; tests poll instead of
// reading once.
const logWaitLimit = 10 * time.Second

// waitForLog returns what server logged after offset once that holds
// needle, and fails the test after logWaitLimit.
func waitForLog(t *testing.T, f *testfixture.Fixture, server string, offset int, needle string) string {
	t.Helper()
	deadline := time.Now().Add(logWaitLimit)
	for {
		tail := f.ReadLog(server)[offset:]
		if strings.Contains(tail, needle) {
			return tail
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not log %q within %s; new lines:\n%s", server, needle, logWaitLimit, tail)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// loginThroughDovecotProxy proves a login through the fixture's Dovecot
// proxy went to port: only the instance behind port logs the login, and
// the proxy logs that it proxied there.
func loginThroughDovecotProxy(t *testing.T, f *testfixture.Fixture, instance, service, user, port string, login func()) {
	t.Helper()
	if instance == "" {
		t.Fatalf("backline chose port %s, which is neither Dovecot A nor B", port)
	}
	before := len(f.ReadLog("DOVECOT_PROXY"))
	expectLogin(t, f, instance, service, user, login)
	waitForLog(t, f, "DOVECOT_PROXY", before, service+": Info: proxy("+user+",127.0.0.1:"+port+"): Started proxying")
}
