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

// waitForOutput returns what a daemon the test runs has written so far,
// once that holds needle, and fails the test after logWaitLimit. A daemon
// may log after it changed what the test polled (a metric, an answer), and
// its output reaches the test's buffer through a pipe copied by another
// goroutine: a single read can miss the line.
func waitForOutput(t *testing.T, out interface{ String() string }, needle string) string {
	t.Helper()
	deadline := time.Now().Add(logWaitLimit)
	for {
		s := out.String()
		if strings.Contains(s, needle) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("the daemon did not log %q within %s", needle, logWaitLimit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitForOutputCount returns what a daemon wrote after offset once needle
// occurs there at least n times, and fails the test after logWaitLimit.
func waitForOutputCount(t *testing.T, out interface{ String() string }, offset int, needle string, n int) string {
	t.Helper()
	deadline := time.Now().Add(logWaitLimit)
	for {
		s := out.String()[offset:]
		if got := strings.Count(s, needle); got >= n {
			return s
		} else if time.Now().After(deadline) {
			t.Fatalf("the daemon logged %q %d times within %s, want %d", needle, got, logWaitLimit, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitForLogCount returns what server logged after offset once needle
// occurs there n times, and fails the test after logWaitLimit (or at once
// when it occurs more often).
func waitForLogCount(t *testing.T, f *testfixture.Fixture, server string, offset int, needle string, n int) string {
	t.Helper()
	deadline := time.Now().Add(logWaitLimit)
	for {
		tail := f.ReadLog(server)[offset:]
		got := strings.Count(tail, needle)
		if got == n {
			return tail
		}
		if got > n || time.Now().After(deadline) {
			t.Fatalf("%s logged %q %d times, want %d (waited up to %s); new lines:\n%s", server, needle, got, n, logWaitLimit, tail)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// wrongPasswordStopsAtDovecotProxy runs logins with a wrong password
// through the fixture's Dovecot proxy and proves none reached Dovecot A or
// B. The positive marker comes first: the proxy's Lua passdb logs one
// password mismatch per login, which it only does when backline refused
// the login (a proxied one is never a mismatch there). Only then are A's
// and B's logs read; a single read right after the client's answer could
// also miss a line their log processes had not written yet.
func wrongPasswordStopsAtDovecotProxy(t *testing.T, f *testfixture.Fixture, user string, logins ...func()) {
	t.Helper()
	proxyBefore := len(f.ReadLog("DOVECOT_PROXY"))
	before := map[string]int{"DOVECOT_A": len(f.ReadLog("DOVECOT_A")), "DOVECOT_B": len(f.ReadLog("DOVECOT_B"))}
	for _, login := range logins {
		login()
	}
	waitForLogCount(t, f, "DOVECOT_PROXY", proxyBefore, "): Password mismatch", len(logins))
	for inst, n := range before {
		if tail := f.ReadLog(inst)[n:]; strings.Contains(tail, "user=<"+user+">") {
			t.Errorf("%s saw %s after a wrong password at the proxy:\n%s", inst, user, tail)
		}
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
