package auth

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/backline/backline/internal/config"
)

// injectedPassword is the POP3 injection as nginx escapes it.
const injectedPassword = "pw%0d%0aDELE 1"

// backendLoginEnv answers passwords by logging in to a (fake) backend, so a
// test sees whether a credential would have reached a protocol line.
func backendLoginEnv(t *testing.T) *testEnv {
	t.Helper()
	return newEnv(t, func(c *config.Config, _ *Options) {
		c.Auth.Passdb = []config.Passdb{{Type: config.PassdbBackendLogin}}
	})
}

// assertInvalid checks the refusal every endpoint gives a malformed
// request and returns the reason: Auth-Status carries it on every endpoint
// (nginx and Nauthilus's Dovecot script read it first); nginx gets it with
// 200 (its protocol) and a text body, header and json with 400 and
// {"error": reason}. Never a server, never Auth-Wait.
func assertInvalid(t *testing.T, w interface {
	Header() http.Header
}, code int, body, endpoint string) string {
	t.Helper()
	hdr := w.Header()
	if hdr.Get("Auth-Server") != "" || hdr.Get("Auth-Port") != "" || hdr.Get("Auth-Wait") != "" {
		t.Errorf("%s: a refused request names a server or a wait: %v", endpoint, hdr)
	}
	if hdr.Get("X-Nauthilus-Session") == "" {
		t.Errorf("%s: no X-Nauthilus-Session", endpoint)
	}
	reason := strings.TrimSuffix(body, "\n")
	wantCode, wantType := http.StatusOK, "text/plain; charset=utf-8"
	if endpoint != "nginx" {
		wantCode, wantType = http.StatusBadRequest, "application/json; charset=utf-8"
		var e struct{ Error string }
		if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error == "" {
			t.Errorf("%s: body %q, want {\"error\": reason}", endpoint, body)
		}
		reason = e.Error
	}
	if code != wantCode || hdr.Get("Content-Type") != wantType {
		t.Errorf("%s: %d %q, want %d %q (body %q)", endpoint, code, hdr.Get("Content-Type"), wantCode, wantType, body)
	}
	if status := hdr.Get("Auth-Status"); status != reason || status == "" || status == "OK" {
		t.Errorf("%s: Auth-Status %q, want the reason %q", endpoint, status, reason)
	}
	return reason
}

// assertFailedLogin checks the answer to a refused user name or password:
// exactly a wrong password's (the failure message, a JSON null body, 200
// on nginx and 403 elsewhere), so clients treat it as a failed login.
func assertFailedLogin(t *testing.T, w *httptest.ResponseRecorder, endpoint string) {
	t.Helper()
	want := http.StatusForbidden
	if endpoint == "nginx" {
		want = http.StatusOK
	}
	if w.Code != want || w.Header().Get("Auth-Status") != config.DefaultFailureMessage || w.Body.String() != "null" ||
		w.Header().Get("Auth-Server") != "" || w.Header().Get("X-Nauthilus-Session") == "" {
		t.Errorf("%s: %d %v %q, want %d with Auth-Status %q and null", endpoint, w.Code, w.Header(), w.Body.String(), want, config.DefaultFailureMessage)
	}
}

func TestLineBreaksInCredentialsAreRefused(t *testing.T) {
	encoded := func(pw string) *http.Request {
		r := headerRequest(testUser, base64.RawURLEncoding.EncodeToString([]byte(pw)), "pop3")
		r.Header.Set("X-Auth-Password-Encoded", "1")
		return r
	}
	noAuth := func(r *http.Request) *http.Request { r.URL.RawQuery = "mode=no-auth"; return r }
	cases := []struct {
		name, endpoint, want string
		req                  *http.Request
	}{
		{"nginx CRLF password", "nginx", "password contains CR, LF or NUL", nginxRequest(testUser, injectedPassword, "pop3", "1")},
		{"nginx LF password", "nginx", "password contains CR, LF or NUL", nginxRequest(testUser, "pw%0aQUIT", "pop3", "1")},
		{"nginx NUL password", "nginx", "password contains CR, LF or NUL", nginxRequest(testUser, "pw%00x", "pop3", "1")},
		{"nginx CR user", "nginx", "username contains CR, LF or NUL", nginxRequest("al%0dice", testPassword, "pop3", "1")},
		{"nginx no-auth LF user", "nginx", "username contains CR, LF or NUL", noAuth(nginxRequest("al%0a.", "", "smtp", "1"))},
		{"header CRLF password", "header", "password contains CR, LF or NUL", func() *http.Request {
			r := headerRequest(testUser, injectedPassword, "pop3")
			return r
		}()},
		{"header base64 CRLF password", "header", "password contains CR, LF or NUL", encoded("pw\r\nDELE 1")},
		{"json CRLF password", "json", "password contains CR, LF or NUL",
			jsonRequestFor(http.MethodPost, `{"username":"alice","password":"pw\r\nDELE 1","protocol":"pop3"}`)},
		{"json NUL user", "json", "username contains CR, LF or NUL",
			jsonRequestFor(http.MethodPost, `{"username":"al\u0000ice","password":"x","protocol":"pop3"}`)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := backendLoginEnv(t)
			w := env.do(c.req)
			assertFailedLogin(t, w, c.endpoint)
			if !strings.Contains(env.logs.String(), `reason="`+c.want+`"`) {
				t.Errorf("the log does not say %q:\n%s", c.want, env.logs.String())
			}
			if len(env.checker.calls) != 0 {
				t.Errorf("the credential reached a backend login: %d calls", len(env.checker.calls))
			}
			if strings.Contains(env.logs.String(), "DELE") {
				t.Errorf("the log repeats the password:\n%s", env.logs.String())
			}
		})
	}
}

func TestBackendLoginRefusesLineBreaksItself(t *testing.T) {
	env := backendLoginEnv(t)
	db := env.h.passdbs[0]
	for _, req := range []*Request{
		{Username: testUser, Password: "pw\r\nDELE 1", Protocol: "pop3"},
		{Username: "alice\nQUIT", Password: testPassword, Protocol: "pop3"},
		{Username: testUser, Password: "pw\x00", Protocol: "imap"},
	} {
		_, err := db.check(t.Context(), req)
		if err == nil {
			t.Errorf("%q/%q: no error", req.Username, req.Password)
		} else if strings.Contains(err.Error(), "DELE") || strings.Contains(err.Error(), "pw") {
			t.Errorf("error repeats the credential: %v", err)
		}
	}
	if len(env.checker.calls) != 0 {
		t.Errorf("backend dialled %d times", len(env.checker.calls))
	}
}

func TestEchoedValuesAreCapped(t *testing.T) {
	huge := strings.Repeat("x", 100000)
	env := newEnv(t, nil)
	for _, endpoint := range []string{"nginx", "header"} {
		r := nginxRequest(testUser, testPassword, "imap", huge)
		r.URL.Path = "/api/v1/auth/" + endpoint
		w := env.do(r)
		reason := assertInvalid(t, w, w.Code, w.Body.String(), endpoint)
		if len(reason) > 200 || !strings.Contains(reason, "(100000 bytes)") || !strings.Contains(reason, "xxx…") {
			t.Errorf("%s: reason of %d bytes: %.300q", endpoint, len(reason), reason)
		}
		if st := w.Header().Get("Auth-Status"); len(st) > maxStatusText {
			t.Errorf("%s: Auth-Status of %d bytes", endpoint, len(st))
		}
	}
	if n := len(env.logs.String()); n > 4000 {
		t.Errorf("log holds %d bytes for two refused requests", n)
	}

	// Control characters never come back raw.
	r := nginxRequest(testUser, testPassword, "imap", "1")
	r.URL.RawQuery = "mode=%0d%0aInjected:%20yes%1b[31m"
	w := env.do(r)
	reason := assertInvalid(t, w, w.Code, w.Body.String(), "nginx")
	if strings.ContainsAny(reason, "\r\n\x1b") || strings.ContainsAny(w.Header().Get("Auth-Status"), "\r\n\x1b") {
		t.Errorf("control characters echoed: %q / %q", reason, w.Header().Get("Auth-Status"))
	}
	r = jsonRequestFor(http.MethodPost, `{"username":"alice","password":"x","auth_login_attempt":"`+huge+`"}`)
	w = env.do(r)
	if reason := assertInvalid(t, w, w.Code, w.Body.String(), "json"); len(reason) > 200 {
		t.Errorf("json: reason of %d bytes", len(reason))
	}
}

func TestDuplicatedSingleValuedFieldsAreRefused(t *testing.T) {
	env := newEnv(t, nil)
	for _, name := range []string{"Auth-User", "Auth-Pass", "Auth-Method", "Auth-Protocol", "Client-IP",
		"Auth-Login-Attempt", "X-Auth-Password-Encoded", "Auth-SSL", "X-Client-Port"} {
		for _, endpoint := range []string{"nginx", "header"} {
			r := nginxRequest(testUser, testPassword, "imap", "1")
			r.URL.Path = "/api/v1/auth/" + endpoint
			first := r.Header.Get(name)
			if first == "" {
				first = "0"
			}
			r.Header.Set(name, first)
			r.Header.Add(name, "bob")
			w := env.do(r)
			want := "header " + name + " is sent 2 times; send it once"
			if got := assertInvalid(t, w, w.Code, w.Body.String(), endpoint); got != want {
				t.Errorf("%s %s: reason %q, want %q", endpoint, name, got, want)
			}
		}
	}
	r := nginxRequest(testUser, testPassword, "imap", "1")
	r.URL.RawQuery = "mode=no-auth&mode=list-accounts"
	w := env.do(r)
	if got := assertInvalid(t, w, w.Code, w.Body.String(), "nginx"); got != "query parameter mode is sent 2 times; send it once" {
		t.Errorf("duplicate mode: %q", got)
	}

	for body, key := range map[string]string{
		`{"username":"alice","password":"x","username":"bob"}`:                    "username",
		`{"username":"alice","password":"x","Password":"y"}`:                      "password",
		`{"username":"alice","password":"x","protocol":"imap","PROTOCOL":"pop3"}`: "protocol",
	} {
		w := env.do(jsonRequestFor(http.MethodPost, body))
		want := "invalid JSON body: key \"" + key + "\" is sent more than once"
		if got := assertInvalid(t, w, w.Code, w.Body.String(), "json"); got != want {
			t.Errorf("%s: %q, want %q", body, got, want)
		}
	}
	// Unknown keys are ignored, repeated or not; nested objects are not keys.
	w = env.do(jsonRequestFor(http.MethodPost, `{"username":"alice","password":"`+testPassword+`","x":1,"x":2,"o":{"username":"a","username":"b"}}`))
	if w.Code != http.StatusOK {
		t.Errorf("unknown duplicate keys: %d %q", w.Code, w.Body.String())
	}
}
