package auth

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/backline/backline/internal/config"
)

// answerTranscript is an answer as a client sees it: status, headers in
// order (the random session as <session>), blank line, body.
func answerTranscript(w *httptest.ResponseRecorder) string {
	var b strings.Builder
	b.WriteString(itoa(w.Code) + "\n")
	for _, k := range sortedHeaderKeys(w.Header()) {
		v := strings.Join(w.Header()[k], ", ")
		if k == "X-Nauthilus-Session" {
			v = "<session>"
		}
		b.WriteString(k + ": " + v + "\n")
	}
	b.WriteString("\n" + w.Body.String())
	return b.String()
}

// The exact answers to refused requests, endpoint by endpoint. Every one
// carries Auth-Status (nginx treats an answer without it as a broken auth
// server; Nauthilus's Dovecot Lua passdb concatenates it into a log line
// and fails without it). A refused user name or password is a failed
// login; a malformed request carries its reason.
func TestRefusalTranscripts(t *testing.T) {
	env := newEnv(t, nil)
	const failedNginx = "200\nAuth-Status: Invalid login or password\nContent-Type: application/json\nX-Nauthilus-Session: <session>\n\nnull"
	const failed = "403\nAuth-Status: Invalid login or password\nContent-Type: application/json\nX-Nauthilus-Session: <session>\n\nnull"
	invalidNginx := func(reason string) string {
		return "200\nAuth-Status: " + reason + "\nContent-Type: text/plain; charset=utf-8\nX-Nauthilus-Session: <session>\n\n" + reason + "\n"
	}
	invalid := func(reason, jsonReason string) string {
		return "400\nAuth-Status: " + reason + "\nContent-Type: application/json; charset=utf-8\nX-Nauthilus-Session: <session>\n\n" +
			`{"error":"` + jsonReason + `"}` + "\n"
	}
	dupUser := func(r *http.Request) *http.Request { r.Header.Add("Auth-User", "bob"); return r }
	noAuth := func(r *http.Request) *http.Request { r.URL.RawQuery = "mode=no-auth"; return r }
	post := func(body string) *http.Request { return jsonRequestFor(http.MethodPost, body) }
	cases := []struct {
		name string
		req  *http.Request
		want string
	}{
		// Refused credentials: a failed login, as a wrong password.
		{"nginx empty password", nginxRequest(testUser, "", "imap", "1"), failedNginx},
		{"nginx empty user", nginxRequest("", testPassword, "pop3", "1"), failedNginx},
		{"nginx smtp empty password, attempt 14", nginxRequest(testUser, "", "smtp", "14"),
			"200\nAuth-Error-Code: 535 5.7.8\nAuth-Status: Invalid login or password\nAuth-Wait: 3\nContent-Type: application/json\nX-Nauthilus-Session: <session>\n\nnull"},
		{"nginx CR LF password", nginxRequest(testUser, injectedPassword, "pop3", "1"), failedNginx},
		{"header empty password", headerRequest(testUser, "", "imap"), failed},
		{"header NUL user", headerRequest("al%00ice", testPassword, "imap"), failed},
		{"json empty password", post(`{"username":"alice","password":"","service":"imap"}`), failed},
		{"json password over 8 KiB", post(`{"username":"alice","password":"` + strings.Repeat("p", 8193) + `"}`), failed},
		{"json userdb lookup of a name with LF", noAuth(post(`{"username":"al\nice","service":"imap"}`)), failed},

		// Malformed: the reason, on every endpoint.
		{"nginx duplicated user", dupUser(nginxRequest(testUser, testPassword, "imap", "1")),
			invalidNginx("header Auth-User is sent 2 times; send it once")},
		{"nginx smtp duplicated user", dupUser(nginxRequest(testUser, testPassword, "smtp", "1")),
			"200\nAuth-Error-Code: 451 4.3.0\nAuth-Status: header Auth-User is sent 2 times; send it once\nContent-Type: text/plain; charset=utf-8\nX-Nauthilus-Session: <session>\n\nheader Auth-User is sent 2 times; send it once\n"},
		{"nginx bad escape", nginxRequest(testUser, "pw%zz", "imap", "1"),
			invalidNginx("header Auth-Pass: invalid %-escape (need % followed by two hex digits)")},
		{"header duplicated user", dupUser(headerRequest(testUser, testPassword, "imap")),
			invalid("header Auth-User is sent 2 times; send it once", "header Auth-User is sent 2 times; send it once")},
		{"header bad attempt", func() *http.Request {
			r := headerRequest(testUser, testPassword, "imap")
			r.Header.Set("Auth-Login-Attempt", "x\x7fy")
			return r
		}(), invalid(`login attempt "x\x7fy" is not a non-negative number`, `login attempt \"x\\x7fy\" is not a non-negative number`)},
		{"json truncated", post(`{"username":"alice","pass`), invalid("invalid JSON body: unexpected EOF", "invalid JSON body: unexpected EOF")},
		{"json duplicated key", post(`{"username":"alice","password":"x","Username":"bob"}`),
			invalid(`invalid JSON body: key "username" is sent more than once`, `invalid JSON body: key \"username\" is sent more than once`)},
		{"json bad escape in the password", post(`{"username":"alice","password":"se\cret"}`),
			invalid("invalid JSON body: syntax error at byte 36", "invalid JSON body: syntax error at byte 36")},
		{"json number as password", post(`{"username":"alice","password":123456}`),
			invalid("invalid JSON body: field password must be a string, not a number", "invalid JSON body: field password must be a string, not a number")},
		{"json oversized field", post(`{"username":"alice","password":"x","client_ip":"` + strings.Repeat("1", 5000) + `"}`),
			invalid("field client_ip longer than 4096 bytes", "field client_ip longer than 4096 bytes")},
		{"json body over the limit", post(`{"username":"` + strings.Repeat("a", 70000) + `"}`),
			invalid("request body larger than 65536 bytes (auth.request.max_body_size)", "request body larger than 65536 bytes (auth.request.max_body_size)")},
	}
	for _, c := range cases {
		w := env.do(c.req)
		if got := answerTranscript(w); got != c.want {
			t.Errorf("%s:\n%s\nwant:\n%s", c.name, got, c.want)
		}
	}
	for _, secret := range []string{"123456", "cret", strings.Repeat("p", 64)} {
		if strings.Contains(env.logs.String(), secret) {
			t.Errorf("the log holds %q:\n%.2000s", secret, env.logs.String())
		}
	}
}

// Refused credentials count and log as failed logins with their reason; a
// malformed request as invalid, with its reason as the error.
func TestRefusalLogLines(t *testing.T) {
	env := newEnv(t, func(c *config.Config, _ *Options) { c.Auth.Nginx.WaitDelay = new(int) })
	env.do(nginxRequest(testUser, "", "imap", "1"))
	env.do(nginxRequest(strings.Repeat("u", 2000), testPassword, "imap", "1"))
	r := nginxRequest(testUser, testPassword, "imap", "1")
	r.Header.Add("Client-IP", "10.0.0.1")
	env.do(r)
	log := env.logs.String()
	for _, want := range []string{
		`outcome=fail user=alice protocol=imap client_ip=192.0.2.7 reason="empty password"`,
		// An oversized name is logged cut and quoted, never whole.
		`outcome=fail user="\"` + strings.Repeat("u", 64) + `…\" (2000 bytes)"`,
		`outcome=invalid error="header Client-IP is sent 2 times; send it once"`,
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %s:\n%s", want, log)
		}
	}
	if strings.Contains(log, strings.Repeat("u", 65)) {
		t.Errorf("the whole oversized name is logged")
	}
	got := gatherCounters(t, env)
	for k, v := range map[string]float64{
		`backline_auth_requests_total{endpoint="nginx",outcome="fail",protocol="imap"}`:    2,
		`backline_auth_requests_total{endpoint="nginx",outcome="invalid",protocol="none"}`: 1,
	} {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
}

// auth.request.max_body_size lets a script send fields of its own for the
// filters to read (unknown JSON keys are ignored by the endpoint) beyond
// the 64 KiB default; the bound still holds at the configured size.
func TestConfiguredBodyLimit(t *testing.T) {
	extra := `,"device_info":"` + strings.Repeat("d", 100<<10) + `"}`
	body := `{"username":"alice","password":"` + testPassword + `","protocol":"imap"` + extra
	if w := newEnv(t, nil).do(jsonRequestFor(http.MethodPost, body)); w.Code != http.StatusBadRequest {
		t.Fatalf("100 KiB body with the default limit: %d", w.Code)
	}
	env := newEnv(t, func(c *config.Config, _ *Options) { c.Auth.Request.MaxBodySize = 128 << 10 })
	if w := env.do(jsonRequestFor(http.MethodPost, body)); w.Code != http.StatusOK || w.Header().Get("Auth-Status") != "OK" {
		t.Errorf("100 KiB body with max_body_size 128KiB: %d %v", w.Code, w.Header())
	}
	big := `{"username":"alice","password":"x","device_info":"` + strings.Repeat("d", 130<<10) + `"}`
	w := env.do(jsonRequestFor(http.MethodPost, big))
	if got := assertInvalid(t, w, w.Code, w.Body.String(), "json"); got != "request body larger than 131072 bytes (auth.request.max_body_size)" {
		t.Errorf("over the configured limit: %q", got)
	}
}
