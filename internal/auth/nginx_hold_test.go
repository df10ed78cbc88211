package auth

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	dto "github.com/prometheus/client_model/go"

	"github.com/backline/backline/internal/config"
)

// holdEnv is newEnv with no_backend_hold 30s (no_backend_wait 5, the
// default), no healthy IMAP or SMTP backend and a clock the test moves.
func holdEnv(t *testing.T) (*testEnv, *time.Time) {
	t.Helper()
	hold := 30 * time.Second
	env := newEnv(t, func(c *config.Config, _ *Options) { c.Auth.Nginx.NoBackendHold = &hold })
	env.health.set(
		mailBackend("imap-a", "imap", "127.0.0.1", 1143, false),
		mailBackend("smtp-a", "smtp", "127.0.0.1", 1587, false),
	)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	env.h.now = func() time.Time { return now }
	return env, &now
}

var waitAnswer = map[string]string{"Auth-Status": "WAIT", "Auth-Wait": "5"}

func tempfailAnswer(wait string) map[string]string {
	m := map[string]string{
		"Auth-Status":  config.DefaultTempfailMessage,
		"Content-Type": "text/plain; charset=utf-8",
	}
	if wait != "" {
		m["Auth-Wait"] = wait
	}
	return m
}

func (e *testEnv) wantAnswer(t *testing.T, r *http.Request, want map[string]string, what string) *httptest.ResponseRecorder {
	t.Helper()
	w := e.do(r)
	if diff := cmp.Diff(want, headerMap(t, w)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", what, diff)
	}
	if w.Code != http.StatusOK {
		t.Errorf("%s: status %d", what, w.Code)
	}
	return w
}

func holdCount(env *testEnv, answer string) float64 {
	var m dto.Metric
	if err := env.h.metrics.hold.WithLabelValues(answer).Write(&m); err != nil {
		env.t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// nginx re-sends the same request (same Auth-Login-Attempt) after each
// WAIT; backline answers WAIT until no_backend_hold is used up, then the
// tempfail of today.
func TestNginxHoldWaitsThenTempfails(t *testing.T) {
	env, now := holdEnv(t)
	start := *now
	for _, after := range []time.Duration{0, 5 * time.Second, 29 * time.Second} {
		*now = start.Add(after)
		w := env.wantAnswer(t, nginxRequest(testUser, testPassword, "imap", "1"), waitAnswer, "held at "+after.String())
		if w.Body.Len() != 0 {
			t.Errorf("WAIT answer has a body: %q", w.Body.String())
		}
	}
	*now = now.Add(time.Second) // 30s after the first request
	env.wantAnswer(t, nginxRequest(testUser, testPassword, "imap", "1"), tempfailAnswer("5"), "hold used up")
	// Still used up while nginx keeps asking about this login.
	*now = now.Add(5 * time.Second)
	env.wantAnswer(t, nginxRequest(testUser, testPassword, "imap", "1"), tempfailAnswer("5"), "still used up")

	if got := holdCount(env, "wait"); got != 3 {
		t.Errorf("wait answers counted %v, want 3", got)
	}
	if got := holdCount(env, "expired"); got != 2 {
		t.Errorf("expired answers counted %v, want 2", got)
	}
	logs := env.logs.String()
	if !strings.Contains(logs, "hold=wait") || !strings.Contains(logs, "hold=expired") ||
		!strings.Contains(logs, `reason="no healthy backend for protocol \"imap\""`) {
		t.Errorf("log lacks the hold verdicts or the reason:\n%s", logs)
	}

	// The client's next LOGIN (attempt 2) is a new login and is held again.
	env.wantAnswer(t, nginxRequest(testUser, testPassword, "imap", "2"), waitAnswer, "next attempt")
	// So is the same user from another address.
	r := nginxRequest(testUser, testPassword, "imap", "1")
	r.Header.Set("Client-IP", "192.0.2.8")
	env.wantAnswer(t, r, waitAnswer, "other client")
}

// SMTP gets the same WAIT: nginx reads no error code with it.
func TestNginxHoldSMTP(t *testing.T) {
	env, _ := holdEnv(t)
	env.wantAnswer(t, nginxRequest(testUser, testPassword, "smtp", "1"), waitAnswer, "smtp")
}

// A protocol with no backend configured at all has nothing to wait for.
func TestNginxHoldNotForUnconfiguredProtocol(t *testing.T) {
	env, _ := holdEnv(t) // no pop3 backend
	env.wantAnswer(t, nginxRequest(testUser, testPassword, "pop3", "1"), tempfailAnswer("5"), "pop3")
	if env.h.hold.held() {
		t.Error("a login without configured backends is held")
	}
}

// A backend that comes back while nginx waits: the next round is a success,
// and the login's entry is gone, so a later outage holds it afresh.
func TestNginxHoldEndsWithSuccess(t *testing.T) {
	env, now := holdEnv(t)
	env.wantAnswer(t, nginxRequest(testUser, testPassword, "imap", "1"), waitAnswer, "first round")
	*now = now.Add(5 * time.Second)
	env.health.set(mailBackend("imap-a", "imap", "127.0.0.1", 1143, true))
	w := env.do(nginxRequest(testUser, testPassword, "imap", "1"))
	if got := w.Header().Get("Auth-Status") + " " + w.Header().Get("Auth-Server"); got != "OK 127.0.0.1" {
		t.Fatalf("after recovery: %q", got)
	}
	if env.h.hold.held() {
		t.Error("a login answered OK is still remembered")
	}
	*now = now.Add(40 * time.Second) // past the hold of the first round
	env.health.set(mailBackend("imap-a", "imap", "127.0.0.1", 1143, false))
	env.wantAnswer(t, nginxRequest(testUser, testPassword, "imap", "1"), waitAnswer, "new outage")
}

// A login nginx stopped asking about (its client left) is forgotten after
// a while; the same user's next connection is held afresh.
func TestNginxHoldStaleEntry(t *testing.T) {
	env, now := holdEnv(t)
	env.wantAnswer(t, nginxRequest(testUser, testPassword, "imap", "1"), waitAnswer, "first")
	*now = now.Add(35 * time.Second) // within stale (2×5s+1m): used up
	env.wantAnswer(t, nginxRequest(testUser, testPassword, "imap", "1"), tempfailAnswer("5"), "used up")
	*now = now.Add(env.h.hold.stale + time.Second)
	env.wantAnswer(t, nginxRequest(testUser, testPassword, "imap", "1"), waitAnswer, "after stale")
}

// Wrong passwords keep their failure answer and Auth-Wait throttling, even
// with no backend healthy: a hold must not become a password oracle or a
// way to park connections.
func TestNginxHoldNeverForWrongPassword(t *testing.T) {
	env, _ := holdEnv(t)
	env.wantAnswer(t, nginxRequest(testUser, "wrong-password", "imap", "10"), map[string]string{
		"Auth-Status":  config.DefaultFailureMessage,
		"Auth-Wait":    "2",
		"Content-Type": "application/json",
	}, "wrong password")
	env.wantAnswer(t, nginxRequest("mallory", "wrong-password", "imap", "1"), map[string]string{
		"Auth-Status":  config.DefaultFailureMessage,
		"Content-Type": "application/json",
	}, "unknown user")
	if got := holdCount(env, "wait"); got != 0 {
		t.Errorf("wait answers counted %v, want 0", got)
	}
}

// Off (the default), nothing changes: the tempfail with Auth-Wait.
func TestNginxHoldOffByDefault(t *testing.T) {
	env := newEnv(t, nil)
	env.health.set(mailBackend("imap-a", "imap", "127.0.0.1", 1143, false))
	if env.h.hold != nil {
		t.Fatal("hold tracker without no_backend_hold")
	}
	env.wantAnswer(t, nginxRequest(testUser, testPassword, "imap", "1"), tempfailAnswer("5"), "off")
}

// The header endpoint is Dovecot's and Nauthilus's: no WAIT there.
func TestNginxHoldOnlyForNginx(t *testing.T) {
	env, _ := holdEnv(t)
	r := nginxRequest(testUser, testPassword, "imap", "1")
	r.URL.Path = "/api/v1/auth/header"
	if w := env.do(r); w.Header().Get("Auth-Status") == "WAIT" {
		t.Errorf("header endpoint answered WAIT")
	}
}

// Hostile Auth-Login-Attempt values: missing is attempt 0 and still held
// within the bound; what is not one non-negative number is refused before
// anything is held.
func TestNginxHoldHostileAttempt(t *testing.T) {
	env, now := holdEnv(t)
	missing := func() *http.Request {
		r := nginxRequest(testUser, testPassword, "imap", "")
		r.Header.Del("Auth-Login-Attempt")
		return r
	}
	env.wantAnswer(t, missing(), waitAnswer, "missing")
	*now = now.Add(30 * time.Second)
	env.wantAnswer(t, missing(), tempfailAnswer("5"), "missing, used up")

	// An attempt past max_wait_attempts (20) is not held: the tempfail
	// without Auth-Wait ends the session, as today, instead of one more
	// hold per login command.
	env.wantAnswer(t, nginxRequest(testUser, testPassword, "imap", "20"), waitAnswer, "last attempt with a wait")
	env.wantAnswer(t, nginxRequest(testUser, testPassword, "imap", "21"), tempfailAnswer(""), "past max_wait_attempts")
	env.wantAnswer(t, nginxRequest(testUser, testPassword, "imap", "1000000"), tempfailAnswer(""), "huge")

	waits := holdCount(env, "wait")
	dup := nginxRequest(testUser, testPassword, "imap", "1")
	dup.Header.Add("Auth-Login-Attempt", "2")
	for what, r := range map[string]*http.Request{
		"non-numeric": nginxRequest(testUser, testPassword, "imap", "one"),
		"negative":    nginxRequest(testUser, testPassword, "imap", "-1"),
		"overflow":    nginxRequest(testUser, testPassword, "imap", "99999999999999999999999999"),
		"duplicated":  dup,
	} {
		w := env.do(r)
		if w.Header().Get("Auth-Status") == "WAIT" || w.Header().Get("Auth-Wait") != "" {
			t.Errorf("%s: held: %v", what, w.Header())
		}
	}
	if got := holdCount(env, "wait"); got != waits {
		t.Errorf("refused requests counted as waits: %v, want %v", got, waits)
	}
}

// Beyond holdMaxEntries logins held at once, a new one gets the tempfail
// (counted as full) rather than growing the table.
func TestNginxHoldFull(t *testing.T) {
	env, now := holdEnv(t)
	env.h.hold.limit = 2
	for _, ip := range []string{"192.0.2.1", "192.0.2.2"} {
		r := nginxRequest(testUser, testPassword, "imap", "1")
		r.Header.Set("Client-IP", ip)
		env.wantAnswer(t, r, waitAnswer, ip)
	}
	r := nginxRequest(testUser, testPassword, "imap", "1")
	r.Header.Set("Client-IP", "192.0.2.3")
	env.wantAnswer(t, r, tempfailAnswer("5"), "third login")
	if got := holdCount(env, "full"); got != 1 {
		t.Errorf("full answers counted %v, want 1", got)
	}
	// Once the first two are stale, there is room again.
	*now = now.Add(env.h.hold.stale + time.Second)
	r = nginxRequest(testUser, testPassword, "imap", "1")
	r.Header.Set("Client-IP", "192.0.2.3")
	env.wantAnswer(t, r, waitAnswer, "after sweep")
	if n := len(env.h.hold.entries); n != 1 {
		t.Errorf("%d entries after the sweep, want 1", n)
	}
}

// A full table of live entries is swept at most once per holdSweepEvery:
// a flood of new logins does not walk it for each one.
func TestNginxHoldFullSweepsAtMostOncePerSecond(t *testing.T) {
	env, now := holdEnv(t)
	env.h.hold.limit = 2
	login := func(ip string) *http.Request {
		r := nginxRequest(testUser, testPassword, "imap", "1")
		r.Header.Set("Client-IP", ip)
		return r
	}
	env.wantAnswer(t, login("192.0.2.1"), waitAnswer, "first")
	env.wantAnswer(t, login("192.0.2.2"), waitAnswer, "second")
	*now = now.Add(env.h.hold.stale - 100*time.Millisecond)
	env.wantAnswer(t, login("192.0.2.3"), tempfailAnswer("5"), "third, full")
	// The first two go stale now, but the table was swept just before.
	*now = now.Add(200 * time.Millisecond)
	env.wantAnswer(t, login("192.0.2.4"), tempfailAnswer("5"), "within a second of the sweep")
	*now = now.Add(holdSweepEvery)
	env.wantAnswer(t, login("192.0.2.4"), waitAnswer, "after the next sweep")
}
