package auth

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/backline/backline/internal/config"
)

func TestNginxSuccessUsesFilterSelection(t *testing.T) {
	filters := &fakeFilters{fn: func(filterRequest) (*filterOutcome, error) {
		return &filterOutcome{SelectedHost: "127.0.0.9", SelectedPort: 9143, Results: []string{"route:ok"}}, nil
	}}
	env := newEnv(t, func(_ *config.Config, o *Options) { o.filters = filters })
	w := env.do(nginxRequest(testUser, testPassword, "imap", "1"))
	want := map[string]string{
		"Auth-Status":              "OK",
		"Auth-Server":              "127.0.0.9",
		"Auth-Port":                "9143",
		"Auth-User":                testUser,
		"X-Nauthilus-Memory-Cache": "Miss",
	}
	if diff := cmp.Diff(want, headerMap(t, w)); diff != "" {
		t.Errorf("headers (-want +got):\n%s", diff)
	}
	if w.Code != 200 || w.Body.Len() != 0 {
		t.Errorf("status %d body %q", w.Code, w.Body.String())
	}
	if got := filters.seen[0]; !got.Authenticated || !got.UserFound || got.Account != testUser || got.Session == "" {
		t.Errorf("filter saw %+v", got)
	}
	if !strings.Contains(env.logs.String(), "filter_results=route:ok") || !strings.Contains(env.logs.String(), "backend=127.0.0.9:9143") {
		t.Errorf("log line lacks filter results or backend:\n%s", env.logs.String())
	}

	// A second login is answered from the positive cache.
	w = env.do(nginxRequest(testUser, testPassword, "imap", "1"))
	if got := w.Header().Get("X-Nauthilus-Memory-Cache"); got != "Hit" {
		t.Errorf("second login: cache %q, want Hit", got)
	}
	if len(filters.seen) != 2 || !filters.seen[1].Authenticated {
		t.Errorf("filters must run on cache hits too: %+v", filters.seen)
	}
}

func TestNginxSelectedHostnameIsResolved(t *testing.T) {
	filters := &fakeFilters{fn: func(filterRequest) (*filterOutcome, error) {
		return &filterOutcome{SelectedHost: "localhost", SelectedPort: 143}, nil
	}}
	env := newEnv(t, func(_ *config.Config, o *Options) { o.filters = filters })
	env.h.resolver = fakeResolver{"localhost": "127.0.0.1"}
	w := env.do(nginxRequest(testUser, testPassword, "imap", "1"))
	if got := w.Header().Get("Auth-Server"); got != "127.0.0.1" {
		t.Errorf("Auth-Server %q, want the IP literal", got)
	}

	env.h.resolver = fakeResolver{}
	w = env.do(nginxRequest(testUser, testPassword, "imap", "1"))
	want := map[string]string{
		"Auth-Status":  config.DefaultTempfailMessage,
		"Content-Type": "text/plain; charset=utf-8",
	}
	if diff := cmp.Diff(want, headerMap(t, w)); diff != "" {
		t.Errorf("unresolvable host (-want +got):\n%s", diff)
	}
}

type fakeResolver map[string]string

func (f fakeResolver) resolve(_ context.Context, host string) (string, error) {
	if ip, ok := f[host]; ok {
		return ip, nil
	}
	return "", errors.New("no such host")
}

func TestNginxDefaultPolicies(t *testing.T) {
	users := []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"}
	pick := func(t *testing.T, env *testEnv, user string) string {
		t.Helper()
		r := nginxRequest(user, "pw-"+user, "imap", "1")
		r.URL.RawQuery = "mode=no-auth"
		w := env.do(r)
		if w.Header().Get("Auth-Status") != "OK" {
			t.Fatalf("no-auth login failed: %v", w.Header())
		}
		return w.Header().Get("Auth-Server") + ":" + w.Header().Get("Auth-Port")
	}

	t.Run("first", func(t *testing.T) {
		env := newEnv(t, knownUsers(t, users, func(c *config.Config) { c.Auth.Nginx.DefaultPolicy = config.PolicyFirst }))
		for _, u := range users {
			if got := pick(t, env, u); got != "127.0.0.1:1143" {
				t.Errorf("%s -> %s, want the first healthy target", u, got)
			}
		}
		env.health.set(mailBackend("imap-a", "imap", "127.0.0.1", 1143, false), mailBackend("imap-b", "imap", "127.0.0.2", 2143, true))
		if got := pick(t, env, "alice"); got != "127.0.0.2:2143" {
			t.Errorf("with A down: %s", got)
		}
	})

	t.Run("round_robin", func(t *testing.T) {
		env := newEnv(t, knownUsers(t, users, func(c *config.Config) { c.Auth.Nginx.DefaultPolicy = config.PolicyRoundRobin }))
		var got []string
		for range 4 {
			got = append(got, pick(t, env, "alice"))
		}
		want := []string{"127.0.0.1:1143", "127.0.0.2:2143", "127.0.0.1:1143", "127.0.0.2:2143"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("round robin (-want +got):\n%s", diff)
		}
	})

	t.Run("user_hash", func(t *testing.T) {
		env := newEnv(t, knownUsers(t, users, nil)) // the default policy
		first := map[string]string{}
		spread := map[string]int{}
		for _, u := range users {
			first[u] = pick(t, env, u)
			spread[first[u]]++
			for range 3 {
				if got := pick(t, env, u); got != first[u] {
					t.Errorf("%s moved from %s to %s", u, first[u], got)
				}
			}
		}
		if len(spread) != 2 {
			t.Errorf("8 users all landed on one backend: %v", spread)
		}
		// When B leaves, only B's users move; when it returns they come back.
		env.health.set(mailBackend("imap-a", "imap", "127.0.0.1", 1143, true), mailBackend("imap-b", "imap", "127.0.0.2", 2143, false))
		for _, u := range users {
			if got := pick(t, env, u); got != "127.0.0.1:1143" {
				t.Errorf("%s -> %s with B down", u, got)
			}
		}
		env.health.set(mailBackend("imap-a", "imap", "127.0.0.1", 1143, true), mailBackend("imap-b", "imap", "127.0.0.2", 2143, true))
		for _, u := range users {
			if got := pick(t, env, u); got != first[u] {
				t.Errorf("%s -> %s after B returned, want %s", u, got, first[u])
			}
		}
	})
}

func TestNginxPolicyUsesRequestProtocol(t *testing.T) {
	env := newEnv(t, nil)
	for proto, want := range map[string]string{"pop3": "127.0.0.1:1110", "smtp": "127.0.0.1:1587"} {
		w := env.do(nginxRequest(testUser, testPassword, proto, "1"))
		if got := w.Header().Get("Auth-Server") + ":" + w.Header().Get("Auth-Port"); got != want {
			t.Errorf("%s -> %s, want %s", proto, got, want)
		}
	}
}

func TestNginxNoHealthyBackend(t *testing.T) {
	env := newEnv(t, nil)
	env.health.set(mailBackend("imap-a", "imap", "127.0.0.1", 1143, false))

	w := env.do(nginxRequest(testUser, testPassword, "imap", "1"))
	want := map[string]string{
		"Auth-Status":  config.DefaultTempfailMessage,
		"Auth-Wait":    "5",
		"Content-Type": "text/plain; charset=utf-8",
	}
	if diff := cmp.Diff(want, headerMap(t, w)); diff != "" {
		t.Errorf("imap (-want +got):\n%s", diff)
	}
	if w.Code != 200 || w.Body.String() != config.DefaultTempfailMessage {
		t.Errorf("status %d body %q", w.Code, w.Body.String())
	}

	w = env.do(nginxRequest(testUser, testPassword, "smtp", "1"))
	want["Auth-Error-Code"] = "451 4.3.0"
	if diff := cmp.Diff(want, headerMap(t, w)); diff != "" {
		t.Errorf("smtp (-want +got):\n%s", diff)
	}

	// Past max_wait_attempts nginx is no longer asked to wait.
	w = env.do(nginxRequest(testUser, testPassword, "imap", "21"))
	if got := w.Header().Get("Auth-Wait"); got != "" {
		t.Errorf("attempt 21: Auth-Wait %q", got)
	}
	if !strings.Contains(env.logs.String(), `reason="no healthy backend for protocol \"imap\""`) {
		t.Errorf("log lacks the reason:\n%s", env.logs.String())
	}
}

func TestNginxWrongPassword(t *testing.T) {
	env := newEnv(t, nil)
	// wait_delay 10: int(10*tanh(0.03*n)).
	for _, c := range []struct {
		attempt string
		wait    string
	}{{"1", ""}, {"3", ""}, {"4", "1"}, {"10", "2"}, {"20", "5"}, {"21", ""}} {
		w := env.do(nginxRequest(testUser, "wrong-password", "imap", c.attempt))
		want := map[string]string{
			"Auth-Status":  config.DefaultFailureMessage,
			"Content-Type": "application/json",
		}
		if c.wait != "" {
			want["Auth-Wait"] = c.wait
		}
		if diff := cmp.Diff(want, headerMap(t, w)); diff != "" {
			t.Errorf("attempt %s (-want +got):\n%s", c.attempt, diff)
		}
		if w.Code != 200 || w.Body.String() != "null" {
			t.Errorf("status %d body %q", w.Code, w.Body.String())
		}
	}
	w := env.do(nginxRequest(testUser, "wrong-password", "smtp", "10"))
	want := map[string]string{
		"Auth-Status":     config.DefaultFailureMessage,
		"Auth-Wait":       "2",
		"Auth-Error-Code": "535 5.7.8",
		"Content-Type":    "application/json",
	}
	if diff := cmp.Diff(want, headerMap(t, w)); diff != "" {
		t.Errorf("smtp (-want +got):\n%s", diff)
	}
	// Unknown users get the same answer: no user enumeration.
	w = env.do(nginxRequest("mallory", "wrong-password", "imap", "1"))
	if got := w.Header().Get("Auth-Status"); got != config.DefaultFailureMessage {
		t.Errorf("unknown user: %q", got)
	}
}

func TestNginxWaitDelayConfig(t *testing.T) {
	zero, five := 0, 5
	env := newEnv(t, func(c *config.Config, _ *Options) { c.Auth.Nginx.WaitDelay = &zero })
	if w := env.do(nginxRequest(testUser, "wrong-password", "imap", "30")); w.Header().Get("Auth-Wait") != "" {
		t.Errorf("wait_delay 0 must turn Auth-Wait off")
	}
	// Nauthilus's measured values for wait_delay 5.
	env = newEnv(t, func(c *config.Config, _ *Options) { c.Auth.Nginx.WaitDelay = &five })
	for attempt, want := range map[int]int{1: 0, 5: 0, 10: 1, 14: 1, 30: 3, 100: 4} {
		if got := waitSeconds(5, attempt); got != want {
			t.Errorf("waitSeconds(5, %d) = %d, want %d", attempt, got, want)
		}
	}
}

func TestNginxFilterRejectAndError(t *testing.T) {
	var result func() (*filterOutcome, error)
	filters := &fakeFilters{fn: func(filterRequest) (*filterOutcome, error) { return result() }}
	env := newEnv(t, func(_ *config.Config, o *Options) { o.filters = filters })

	result = func() (*filterOutcome, error) {
		return &filterOutcome{Reject: true, StatusMessage: "Account locked, call\r\nhelpdesk", Rejected: []string{"lock"},
			SelectedHost: "127.0.0.9", SelectedPort: 1}, nil
	}
	w := env.do(nginxRequest(testUser, testPassword, "smtp", "10"))
	want := map[string]string{
		"Auth-Status":     "Account locked, call  helpdesk",
		"Auth-Wait":       "2",
		"Auth-Error-Code": "535 5.7.8",
		"Content-Type":    "application/json",
	}
	if diff := cmp.Diff(want, headerMap(t, w)); diff != "" {
		t.Errorf("reject (-want +got):\n%s", diff)
	}
	if !strings.Contains(env.logs.String(), "rejected_filters=lock") {
		t.Errorf("log lacks rejected filter:\n%s", env.logs.String())
	}

	result = func() (*filterOutcome, error) { return nil, errors.New("lua: attempt to call a nil value") }
	w = env.do(nginxRequest(testUser, testPassword, "imap", "1"))
	want = map[string]string{
		"Auth-Status":  config.DefaultTempfailMessage,
		"Content-Type": "text/plain; charset=utf-8",
	}
	if diff := cmp.Diff(want, headerMap(t, w)); diff != "" {
		t.Errorf("lua error (-want +got):\n%s", diff)
	}
}

func TestNginxCustomMessages(t *testing.T) {
	env := newEnv(t, func(c *config.Config, _ *Options) {
		c.Auth.Nginx.FailureMessage = "Nope"
		c.Auth.Nginx.TempfailMessage = "Later"
	})
	if got := env.do(nginxRequest(testUser, "wrong-password", "imap", "1")).Header().Get("Auth-Status"); got != "Nope" {
		t.Errorf("failure message %q", got)
	}
	env.health.set()
	if got := env.do(nginxRequest(testUser, testPassword, "imap", "1")).Header().Get("Auth-Status"); got != "Later" {
		t.Errorf("tempfail message %q", got)
	}
}

// TestNginxAnswersFitNginxBuffer sends nginx's exact bytes over TCP and
// checks every kind of answer stays under the 1024 bytes nginx reads.
func TestNginxAnswersFitNginxBuffer(t *testing.T) {
	long := strings.Repeat("\xc3\xb6", 600) // 1200 bytes of 'ö'
	filters := &fakeFilters{fn: func(fr filterRequest) (*filterOutcome, error) {
		if fr.Username == "reject" {
			return &filterOutcome{Reject: true, StatusMessage: long}, nil
		}
		return nil, nil
	}}
	longUser := strings.Repeat("u", 900)
	env := newEnv(t, func(c *config.Config, o *Options) {
		o.filters = filters
		c.Auth.Nginx.TempfailMessage = strings.Repeat("t", 400)
		c.Auth.Passdb = append(c.Auth.Passdb, config.Passdb{Type: config.PassdbPasswdFile,
			Path: writePasswd(t, longUser+":{PLAIN}"+testPassword, "reject:{PLAIN}"+testPassword)})
	})
	srv := httptest.NewServer(env.mux)
	defer srv.Close()

	raw := func(user, pass, proto string) (string, http.Header) {
		t.Helper()
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		req := "GET /api/v1/auth/nginx HTTP/1.0\r\nHost: 127.0.0.1\r\nAuth-Method: plain\r\n" +
			"Auth-User: " + user + "\r\nAuth-Pass: " + pass + "\r\nAuth-Protocol: " + proto + "\r\n" +
			"Auth-Login-Attempt: 10\r\nClient-IP: 127.0.0.1\r\nAuth-SSL: on\r\nAuth-SSL-Protocol: TLSv1.3\r\n" +
			"Auth-SSL-Cipher: TLS_AES_256_GCM_SHA384\r\nX-Harness-Proxy: nginx-mail\r\n\r\n"
		if _, err := io.WriteString(conn, req); err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(conn)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(string(b))), nil)
		if err != nil {
			t.Fatalf("reading %q: %v", b, err)
		}
		resp.Body.Close()
		return string(b), resp.Header
	}
	check := func(name, user, pass, proto, wantStatus string) http.Header {
		t.Helper()
		b, hdr := raw(user, pass, proto)
		if len(b) >= 1024 {
			t.Errorf("%s: answer is %d bytes:\n%s", name, len(b), b)
		}
		if got := hdr.Get("Auth-Status"); !strings.HasPrefix(got, wantStatus) {
			t.Errorf("%s: Auth-Status %q", name, got)
		}
		return hdr
	}
	hdr := check("long user ok", longUser, testPassword, "imap", "OK")
	if hdr.Get("Auth-Server") == "" || hdr.Get("Auth-Port") == "" {
		t.Errorf("long user: OK without server/port: %v", hdr)
	}
	check("wrong password long user", longUser, "x", "smtp", config.DefaultFailureMessage)
	hdr = check("long status message", "reject", testPassword, "smtp", "\xc3\xb6")
	if !strings.HasSuffix(hdr.Get("Auth-Status"), "\xc3\xb6") {
		t.Errorf("status message cut inside a character")
	}
	env.health.set()
	check("tempfail", testUser, testPassword, "smtp", "ttt")
	// The transcript's odd password, escaped as nginx does.
	env.health.set(mailBackend("imap-a", "imap", "127.0.0.1", 1143, true))
	check("unknown odd user", "odd-user", "p%20a\"s\\s%20w\xc3\xb6rd%25+&=", "imap", config.DefaultFailureMessage)
}

func TestNginxAccountEcho(t *testing.T) {
	filters := &fakeFilters{fn: func(filterRequest) (*filterOutcome, error) { return nil, nil }}
	env := newEnv(t, func(_ *config.Config, o *Options) { o.filters = filters })
	w := env.do(nginxRequest("bob", bobPassword, "imap", "1"))
	if got := w.Header().Get("Auth-User"); got != "bob" {
		t.Errorf("Auth-User %q", got)
	}
	// Attribute headers never go to nginx.
	w = env.do(nginxRequest(testUser, testPassword, "imap", "1"))
	for k := range w.Header() {
		if strings.HasPrefix(k, "X-Nauthilus-") && k != "X-Nauthilus-Session" && k != "X-Nauthilus-Memory-Cache" {
			t.Errorf("nginx answer carries attribute header %s", k)
		}
	}
}
