package auth

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/backline/backline/internal/config"
)

func headerRequest(user, pass, proto string) *http.Request {
	r := nginxRequest(user, pass, proto, "1")
	r.URL.Path = "/api/v1/auth/header"
	return r
}

func jsonRequestFor(method, body string) *http.Request {
	r := httptest.NewRequest(method, "/api/v1/auth/json", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	return r
}

func luaAttributes() *fakeFilters {
	return &fakeFilters{fn: func(filterRequest) (*filterOutcome, error) {
		return &filterOutcome{
			Attributes: map[string]any{
				"hostip":        "127.0.0.1",
				"mailhost":      "lua-ignored",   // present from the passdb: kept
				"quota":         "5G",            // removed first, so Lua's wins
				"probe-list":    []any{"a", "b"}, // a Lua list is one value
				"custom_field":  float64(42),
				"user_password": "hunter2",
				"totp_secret":   "JBSWY3DP",
			},
			Remove: []string{"quota"},
		}, nil
	}}
}

func TestHeaderSuccess(t *testing.T) {
	env := newEnv(t, func(_ *config.Config, o *Options) { o.filters = luaAttributes() })
	w := env.do(headerRequest(testUser, testPassword, "imap"))
	want := map[string]string{
		"Auth-Status":              "OK",
		"Auth-User":                testUser,
		"X-Nauthilus-Memory-Cache": "Miss",
		"X-Nauthilus-Account":      testUser,
		"X-Nauthilus-Hostip":       "127.0.0.1",
		"X-Nauthilus-Mailhost":     "10.0.0.5",
		"X-Nauthilus-Quota":        "5G",
		"X-Nauthilus-Probe-List":   "[a b]",
		"X-Nauthilus-Proxy-Host":   "127.0.0.1", // the settled selection (user_hash)
		"X-Nauthilus-Proxy-Port":   "1143",
		"X-Nauthilus-Custom_field": "42",
	}
	if diff := cmp.Diff(want, headerMap(t, w)); diff != "" {
		t.Errorf("headers (-want +got):\n%s", diff)
	}
	if w.Code != 200 || w.Body.Len() != 0 {
		t.Errorf("status %d body %q", w.Code, w.Body.String())
	}
}

func TestHeaderMultiValues(t *testing.T) {
	env := newEnv(t, func(c *config.Config, _ *Options) {
		c.Auth.Passdb = []config.Passdb{{Type: config.PassdbPasswdFile, Path: writePasswd(t,
			testUser+":{PLAIN}"+testPassword+"::::::group=a group=b dn=cn=x dn=ou=y")}}
	})
	w := env.do(headerRequest(testUser, testPassword, "imap"))
	if got := w.Header().Get("X-Nauthilus-Group"); got != "a,b" {
		t.Errorf("group %q", got)
	}
	if got := w.Header().Get("X-Nauthilus-Dn"); got != "cn=x;ou=y" {
		t.Errorf("dn %q", got)
	}
}

func TestHeaderFailureAndTempfail(t *testing.T) {
	filters := &fakeFilters{fn: func(fr filterRequest) (*filterOutcome, error) {
		if fr.Username == "bob" {
			return nil, errString("boom")
		}
		return nil, nil
	}}
	env := newEnv(t, func(_ *config.Config, o *Options) { o.filters = filters })
	r := headerRequest(testUser, "wrong-password", "imap")
	r.Header.Set("Auth-Login-Attempt", "10")
	w := env.do(r)
	want := map[string]string{
		"Auth-Status":  config.DefaultFailureMessage,
		"Auth-Wait":    "2",
		"Content-Type": "application/json",
	}
	if diff := cmp.Diff(want, headerMap(t, w)); diff != "" {
		t.Errorf("failure (-want +got):\n%s", diff)
	}
	if w.Code != 403 || w.Body.String() != "null" {
		t.Errorf("failure: status %d body %q", w.Code, w.Body.String())
	}

	w = env.do(headerRequest("bob", bobPassword, "smtp"))
	want = map[string]string{
		"Auth-Status":  config.DefaultTempfailMessage,
		"Content-Type": "text/plain; charset=utf-8",
	}
	if diff := cmp.Diff(want, headerMap(t, w)); diff != "" {
		t.Errorf("tempfail (-want +got):\n%s", diff)
	}
	if w.Code != 500 || w.Body.String() != config.DefaultTempfailMessage {
		t.Errorf("tempfail: status %d body %q", w.Code, w.Body.String())
	}
}

type errString string

func (e errString) Error() string { return string(e) }

func TestJSONSuccess(t *testing.T) {
	env := newEnv(t, func(_ *config.Config, o *Options) { o.filters = luaAttributes() })
	for _, method := range []string{http.MethodPost, http.MethodGet} {
		w := env.do(jsonRequestFor(method, `{"username":"alice","password":"`+testPassword+`","protocol":"imap","client_ip":"192.0.2.1","auth_login_attempt":1,"unknown_field":true}`))
		if w.Code != 200 {
			t.Fatalf("%s: status %d body %s", method, w.Code, w.Body.String())
		}
		if got := w.Header().Get("Content-Type"); got != "application/json; charset=utf-8" {
			t.Errorf("content type %q", got)
		}
		backend := "7"
		if w.Header().Get("X-Nauthilus-Memory-Cache") == "Hit" {
			backend = "5"
		}
		want := `{"ok":true,"account_field":"account","totp_secret_field":"","backend":` + backend + `,"attributes":{` +
			`"Proxy-Host":["127.0.0.1"],"Proxy-Port":["1143"],"account":["alice"],"custom_field":[42],"hostip":["127.0.0.1"],"mailhost":["10.0.0.5"],"probe-list":[["a","b"]],"quota":["5G"]}}`
		if got := w.Body.String(); got != want {
			t.Errorf("%s body\n got %s\nwant %s", method, got, want)
		}
		if w.Header().Get("Auth-Status") != "OK" || w.Header().Get("Auth-User") != testUser {
			t.Errorf("headers %v", w.Header())
		}
	}
}

func TestJSONFailureAndTempfail(t *testing.T) {
	env := newEnv(t, nil)
	w := env.do(jsonRequestFor(http.MethodPost, `{"username":"alice","password":"wrong-password","auth_login_attempt":"10"}`))
	if w.Code != 403 || w.Body.String() != "null" || w.Header().Get("Content-Type") != "application/json" ||
		w.Header().Get("Auth-Status") != config.DefaultFailureMessage || w.Header().Get("Auth-Wait") != "2" {
		t.Errorf("failure: %d %v %q", w.Code, w.Header(), w.Body.String())
	}

	env = newEnv(t, func(c *config.Config, _ *Options) {
		c.Auth.Passdb = []config.Passdb{{Type: config.PassdbBackendLogin}}
	})
	env.checker.down = true
	w = env.do(jsonRequestFor(http.MethodPost, `{"username":"alice","password":"`+testPassword+`","protocol":"imap"}`))
	if w.Code != 500 || w.Body.String() != `{"error":"`+config.DefaultTempfailMessage+`"}` {
		t.Errorf("tempfail: %d %q", w.Code, w.Body.String())
	}
}

func TestMalformedRequests(t *testing.T) {
	env := newEnv(t, nil)
	cases := []struct {
		name string
		req  *http.Request
		want string
	}{
		{"bad escape", nginxRequest(testUser, "abc%zz", "imap", "1"), "header Auth-Pass: invalid %-escape (need % followed by two hex digits)"},
		{"cut escape", nginxRequest("al%4", testPassword, "imap", "1"), "header Auth-User: invalid %-escape (need % followed by two hex digits)"},
		{"bad attempt", nginxRequest(testUser, testPassword, "imap", "many"), "login attempt \"many\" is not a non-negative number"},
		{"bad json", jsonRequestFor(http.MethodPost, `{"username":`), "invalid JSON body: unexpected EOF"},
		{"json type", jsonRequestFor(http.MethodPost, `{"username":1}`), "invalid JSON body: field username must be a string, not a number"},
		{"json array", jsonRequestFor(http.MethodPost, `["alice"]`), "invalid JSON body: the body must be an object, not an array"},
		{"json syntax", jsonRequestFor(http.MethodPost, `{"username":"alice","password":"se\cret"}`), "invalid JSON body: syntax error at byte 36"},
		{"empty json", jsonRequestFor(http.MethodPost, ``), "invalid JSON body: empty body"},
		{"two json values", jsonRequestFor(http.MethodPost, `{} {}`), "invalid JSON body: more than one JSON value"},
		{"huge body", jsonRequestFor(http.MethodPost, `{"username":"`+strings.Repeat("a", 70000)+`"}`), "request body larger than 65536 bytes (auth.request.max_body_size)"},
		{"huge json field", jsonRequestFor(http.MethodPost, `{"username":"alice","password":"x","client_id":"`+strings.Repeat("i", 5000)+`"}`), "field client_id longer than 4096 bytes"},
	}
	bad64 := headerRequest(testUser, "not base64!", "imap")
	bad64.Header.Set("X-Auth-Password-Encoded", "1")
	badMode := nginxRequest(testUser, testPassword, "imap", "1")
	badMode.URL.RawQuery = "mode=list-accounts"
	unknownMode := headerRequest(testUser, testPassword, "imap")
	unknownMode.URL.RawQuery = "mode=lookup"
	hugeSSL := headerRequest(testUser, testPassword, "imap")
	hugeSSL.Header.Set("Auth-SSL-Subject", strings.Repeat("s", 4097))
	cases = append(cases, []struct {
		name string
		req  *http.Request
		want string
	}{
		{"bad base64", bad64, "header Auth-Pass: X-Auth-Password-Encoded is 1 but the value is not base64url"},
		{"list-accounts on nginx", badMode, "mode list-accounts is answered by the header and json endpoints, not nginx"},
		{"unsupported mode", unknownMode, "unsupported mode \"lookup\" (use no-auth or list-accounts)"},
		{"huge TLS header", hugeSSL, "field ssl_client_dn longer than 4096 bytes"},
	}...)

	for _, c := range cases {
		w := env.do(c.req)
		endpoint := strings.TrimPrefix(c.req.URL.Path, "/api/v1/auth/")
		if got := assertInvalid(t, w, w.Code, w.Body.String(), endpoint); got != c.want {
			t.Errorf("%s: reason %q, want %q", c.name, got, c.want)
		}
	}
	// The syntax error names the byte, not the character: it may be part
	// of the password.
	if strings.Contains(env.logs.String(), `\\c`) || strings.Contains(env.logs.String(), "'c'") {
		t.Errorf("the log quotes the password's character:\n%s", env.logs.String())
	}
}

func TestRoutesAcceptGetAndPost(t *testing.T) {
	env := newEnv(t, nil)
	for _, path := range []string{"/api/v1/auth/nginx", "/api/v1/auth/header"} {
		for _, m := range []string{http.MethodGet, http.MethodPost} {
			r := nginxRequest(testUser, testPassword, "imap", "1")
			r.Method, r.URL.Path = m, path
			if w := env.do(r); w.Header().Get("Auth-Status") != "OK" {
				t.Errorf("%s %s: %d %v", m, path, w.Code, w.Header())
			}
		}
	}
	r := nginxRequest(testUser, testPassword, "imap", "1")
	r.Method = http.MethodDelete
	if w := env.do(r); w.Code != http.StatusMethodNotAllowed {
		t.Errorf("DELETE: %d", w.Code)
	}
}
