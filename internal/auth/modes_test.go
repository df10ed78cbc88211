package auth

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/backline/backline/internal/config"
)

// Nauthilus up to 1.9 and the Dovecot Lua passdb of its docs send
// Dovecot's service ("pop3") as `service` and no `protocol`: the request's
// protocol is then the service, so a POP3 login gets a POP3 backend. Before
// the fix it got an IMAP port.
func TestServiceIsTheProtocolWhenProtocolIsAbsent(t *testing.T) {
	env := newEnv(t, nil)
	for _, tc := range []struct{ name, body, port string }{
		{"service pop3", `{"username":"alice","password":"` + testPassword + `","service":"pop3"}`, "1110"},
		{"service POP3 folded", `{"username":"alice","password":"` + testPassword + `","service":"POP3"}`, "1110"},
		{"service imap", `{"username":"alice","password":"` + testPassword + `","service":"imap"}`, "1143"},
		{"protocol wins", `{"username":"alice","password":"` + testPassword + `","protocol":"imap","service":"pop3"}`, "1143"},
	} {
		w := env.do(jsonRequestFor(http.MethodPost, tc.body))
		want := `"Proxy-Port":["` + tc.port + `"]`
		if w.Code != 200 || !strings.Contains(w.Body.String(), want) {
			t.Errorf("%s: %d %s, want %s", tc.name, w.Code, w.Body.String(), want)
		}
	}
	// Header endpoint: Auth-Service stands in for a missing Auth-Protocol.
	r := headerRequest(testUser, testPassword, "")
	r.Header.Del("Auth-Protocol")
	r.Header.Set("Auth-Service", "pop3")
	w := env.do(r)
	if w.Code != 200 || w.Header().Get("X-Nauthilus-Proxy-Port") != "1110" {
		t.Errorf("header Auth-Service: %d %v", w.Code, w.Header())
	}
	r = headerRequest(testUser, testPassword, "imap")
	r.Header.Set("Auth-Service", "pop3")
	if w := env.do(r); w.Header().Get("X-Nauthilus-Proxy-Port") != "1143" {
		t.Errorf("Auth-Protocol must win: %v", w.Header())
	}
}

// The body the Dovecot Lua passdb of Nauthilus's docs sends (field by
// field as its query_db builds it) is accepted as is.
func TestDovecotLuaPassdbBody(t *testing.T) {
	env := newEnv(t, nil)
	body := `{"username":"alice","password":"` + testPassword + `","client_ip":"192.0.2.10","client_port":"0",` +
		`"client_id":"","local_ip":"127.0.0.1","local_port":"0","service":"pop3","method":"plain",` +
		`"ssl":"1","ssl_protocol":"TLS","ssl_client_verify":"1"}`
	r := jsonRequestFor(http.MethodPost, body)
	r.Header.Set("Authorization", "Basic dXNlcjpwYXNz")
	r.Header.Set("X-Dovecot-Session", "abc123")
	w := env.do(r)
	if w.Code != 200 || w.Header().Get("Auth-Status") != "OK" || w.Header().Get("Auth-User") != "alice" ||
		w.Header().Get("X-Nauthilus-Session") == "" || !strings.Contains(w.Body.String(), `"Proxy-Port":["1110"]`) {
		t.Errorf("dovecot passdb: %d %v %s", w.Code, w.Header(), w.Body.String())
	}
	// Its userdb lookup: the same body without a password, ?mode=no-auth.
	r = jsonRequestFor(http.MethodPost, strings.Replace(body, `"password":"`+testPassword+`"`, `"password":""`, 1))
	r.URL.RawQuery = "mode=no-auth"
	if w := env.do(r); w.Code != 200 || w.Header().Get("Auth-User") != "alice" {
		t.Errorf("dovecot userdb: %d %v %s", w.Code, w.Header(), w.Body.String())
	}
}

// ?mode=no-auth is a userdb lookup: a name no passdb knows is "unknown
// user", answered as a failed login (403, Auth-Status, JSON null), which
// the Dovecot Lua userdb maps to USERDB_RESULT_USER_UNKNOWN.
func TestNoAuthUnknownUser(t *testing.T) {
	env := newEnv(t, nil)
	lookup := func(endpoint, user string) *http.Request {
		var r *http.Request
		if endpoint == "json" {
			r = jsonRequestFor(http.MethodPost, `{"username":"`+user+`","service":"imap"}`)
		} else {
			r = headerRequest(user, "", "imap")
			r.Header.Del("Auth-Pass")
		}
		r.URL.RawQuery = "mode=no-auth"
		return r
	}
	for _, ep := range []string{"json", "header"} {
		w := env.do(lookup(ep, "nobody"))
		if w.Code != 403 || w.Body.String() != "null" || w.Header().Get("Auth-Status") != config.DefaultFailureMessage ||
			w.Header().Get("X-Nauthilus-Session") == "" || w.Header().Get("Auth-User") != "" {
			t.Errorf("%s unknown: %d %v %q", ep, w.Code, w.Header(), w.Body.String())
		}
		w = env.do(lookup(ep, testUser))
		if w.Code != 200 || w.Header().Get("Auth-Status") != "OK" || w.Header().Get("Auth-User") != testUser {
			t.Errorf("%s known: %d %v %q", ep, w.Code, w.Header(), w.Body.String())
		}
	}
	// The passwd-file's extra fields come with the lookup (userdb fields).
	w := env.do(lookup("json", testUser))
	if !strings.Contains(w.Body.String(), `"mailhost":["10.0.0.5"]`) || !strings.Contains(w.Body.String(), `"quota":["1G"]`) {
		t.Errorf("lookup attributes: %s", w.Body.String())
	}
	// nginx's smtp_auth none: no name, nothing to look up, still OK.
	r := nginxRequest("", "", "smtp", "1")
	r.URL.RawQuery = "mode=no-auth"
	if w := env.do(r); w.Header().Get("Auth-Status") != "OK" {
		t.Errorf("nameless no-auth: %v", w.Header())
	}
	if !strings.Contains(env.logs.String(), "reason=\"unknown user\"") && !strings.Contains(env.logs.String(), "reason=unknown user") {
		t.Errorf("log lacks the reason:\n%s", env.logs.String())
	}
}

// backend_login cannot tell whether a user exists without a password: for
// a lookup it knows nobody and never logs in to a backend.
func TestNoAuthBackendLoginKnowsNobody(t *testing.T) {
	env := newEnv(t, func(c *config.Config, _ *Options) {
		c.Auth.Passdb = []config.Passdb{{Type: config.PassdbBackendLogin}}
	})
	r := jsonRequestFor(http.MethodPost, `{"username":"alice","protocol":"imap"}`)
	r.URL.RawQuery = "mode=no-auth"
	if w := env.do(r); w.Code != 403 {
		t.Errorf("backend_login lookup: %d %v", w.Code, w.Header())
	}
	env.checker.mu.Lock()
	n := len(env.checker.calls)
	env.checker.mu.Unlock()
	if n != 0 {
		t.Errorf("a lookup logged in to a backend %d times", n)
	}
	// No passdb at all: nobody exists either.
	env = newEnv(t, func(c *config.Config, _ *Options) { c.Auth.Passdb = nil })
	r = jsonRequestFor(http.MethodPost, `{"username":"alice","protocol":"imap"}`)
	r.URL.RawQuery = "mode=no-auth"
	if w := env.do(r); w.Code != 403 {
		t.Errorf("no passdb lookup: %d", w.Code)
	}
}

func TestNoAuthLuaPassdbAndListAccounts(t *testing.T) {
	env := newLuaEnv(t, func(c *config.Config) {
		c.Auth.Passdb = append(c.Auth.Passdb, config.Passdb{Type: config.PassdbLua, ScriptPath: "testdata/passdb_listing.lua"})
	})
	r := jsonRequestFor(http.MethodPost, `{"username":"luauser","service":"imap"}`)
	r.URL.RawQuery = "mode=no-auth"
	w := env.do(r)
	if w.Code != 200 || w.Header().Get("Auth-User") != "luauser@example.org" || !strings.Contains(w.Body.String(), `"mail":["/var/mail/luauser"]`) {
		t.Errorf("lua lookup: %d %v %s", w.Code, w.Header(), w.Body.String())
	}
	r = jsonRequestFor(http.MethodPost, `{"username":"ghost","service":"imap"}`)
	r.URL.RawQuery = "mode=no-auth"
	if w := env.do(r); w.Code != 403 {
		t.Errorf("lua unknown: %d", w.Code)
	}

	// list-accounts, as Dovecot's auth_userdb_iterate asks: GET, no body.
	r = httptestRequest(http.MethodGet, "/api/v1/auth/json?mode=list-accounts", "")
	r.Header.Set("Accept", "application/json")
	w = env.do(r)
	want := `["alice","bob","luauser@example.org","second@example.org"]`
	if w.Code != 200 || w.Body.String() != want || w.Header().Get("Content-Type") != "application/json; charset=utf-8" {
		t.Errorf("json list: %d %v %s", w.Code, w.Header(), w.Body.String())
	}
	r = httptestRequest(http.MethodGet, "/api/v1/auth/header?mode=list-accounts", "")
	w = env.do(r)
	if w.Code != 200 || w.Body.String() != "alice\nbob\nluauser@example.org\nsecond@example.org\n" {
		t.Errorf("header list: %d %q", w.Code, w.Body.String())
	}
}

func TestListAccountsWithoutLister(t *testing.T) {
	env := newEnv(t, func(c *config.Config, _ *Options) {
		c.Auth.Passdb = []config.Passdb{{Type: config.PassdbBackendLogin}}
	})
	w := env.do(httptestRequest(http.MethodGet, "/api/v1/auth/json?mode=list-accounts", ""))
	if w.Code != 501 || w.Body.String() != `{"error":"`+noListerText+`"}` {
		t.Errorf("json: %d %s", w.Code, w.Body.String())
	}
	w = env.do(httptestRequest(http.MethodGet, "/api/v1/auth/header?mode=list-accounts", ""))
	if w.Code != 501 || w.Body.String() != noListerText+"\n" {
		t.Errorf("header: %d %q", w.Code, w.Body.String())
	}
	// A Lua passdb without nauthilus_backend_list_accounts cannot list either.
	env = newLuaEnv(t, func(c *config.Config) {
		c.Auth.Passdb = []config.Passdb{{Type: config.PassdbLua, ScriptPath: "testdata/passdb.lua"}}
	})
	for range 2 {
		if w := env.do(httptestRequest(http.MethodGet, "/api/v1/auth/json?mode=list-accounts", "")); w.Code != 501 {
			t.Errorf("lua without lister: %d %s", w.Code, w.Body.String())
		}
	}
}

func httptestRequest(method, target, body string) *http.Request {
	return httptest.NewRequest(method, target, strings.NewReader(body))
}

// The exact answers of a userdb lookup, header by header.
func TestNoAuthTranscripts(t *testing.T) {
	env := newEnv(t, nil)
	transcript := answerTranscript
	r := jsonRequestFor(http.MethodPost, `{"username":"nobody","service":"imap"}`)
	r.URL.RawQuery = "mode=no-auth"
	want := "403\nAuth-Status: Invalid login or password\nContent-Type: application/json\nX-Nauthilus-Session: <session>\n\nnull"
	if got := transcript(env.do(r)); got != want {
		t.Errorf("json unknown:\n%s\nwant:\n%s", got, want)
	}
	r = jsonRequestFor(http.MethodPost, `{"username":"bob","service":"imap"}`)
	r.URL.RawQuery = "mode=no-auth"
	want = "200\nAuth-Status: OK\nAuth-User: bob\nContent-Type: application/json; charset=utf-8\nX-Nauthilus-Memory-Cache: Miss\nX-Nauthilus-Session: <session>\n\n" +
		`{"ok":true,"account_field":"account","totp_secret_field":"","backend":7,"attributes":{"Proxy-Host":["127.0.0.2"],"Proxy-Port":["2143"],"account":["bob"]}}`
	if got := transcript(env.do(r)); got != want {
		t.Errorf("json known:\n%s\nwant:\n%s", got, want)
	}
	r = headerRequest("nobody", "", "imap")
	r.Header.Del("Auth-Pass")
	r.URL.RawQuery = "mode=no-auth"
	want = "403\nAuth-Status: Invalid login or password\nContent-Type: application/json\nX-Nauthilus-Session: <session>\n\nnull"
	if got := transcript(env.do(r)); got != want {
		t.Errorf("header unknown:\n%s\nwant:\n%s", got, want)
	}
}

func sortedHeaderKeys(h http.Header) []string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	for i := range keys {
		for j := i + 1; j < len(keys); j++ {
			if keys[j] < keys[i] {
				keys[i], keys[j] = keys[j], keys[i]
			}
		}
	}
	return keys
}

// Ten thousand request headers through a real filter that reads them all.
func TestManyRequestHeadersThroughFilter(t *testing.T) {
	env := newLuaEnv(t, nil, "http_exchange_filter.lua")
	r := headerRequest(testUser, testPassword, "imap")
	for i := range 10000 {
		r.Header.Set("X-Junk-"+itoa(i+1), "v")
	}
	if w := env.do(r); w.Code != 200 || w.Header().Get("X-Seen-Method") != "GET" {
		t.Errorf("10k headers: %d %v", w.Code, w.Header().Get("Auth-Status"))
	}
}

// Ports as numbers (a Dovecot Lua script that does not tostring() them)
// are the same ports; other shapes are refused.
func TestJSONPortsAsNumbers(t *testing.T) {
	env := newEnv(t, nil)
	w := env.do(jsonRequestFor(http.MethodPost, `{"username":"alice","password":"`+testPassword+`","service":"imap","client_port":51234,"local_port":143}`))
	if w.Code != 200 {
		t.Errorf("numeric ports: %d %s", w.Code, w.Body.String())
	}
	for _, bad := range []string{`1.5`, `-1`, `70000`, `{}`, `true`} {
		w := env.do(jsonRequestFor(http.MethodPost, `{"username":"alice","password":"x","client_port":`+bad+`}`))
		if w.Code != 400 || !strings.Contains(w.Body.String(), "port") {
			t.Errorf("client_port %s: %d %q", bad, w.Code, w.Body.String())
		}
	}
}

// A list-accounts POST with a JSON body (as other Nauthilus clients send
// it) lists the same accounts; the body's fields do not matter.
func TestListAccountsPostWithBody(t *testing.T) {
	env := newEnv(t, nil)
	r := jsonRequestFor(http.MethodPost, `{"username":"lister"}`)
	r.URL.RawQuery = "mode=list-accounts"
	if w := env.do(r); w.Code != 200 || w.Body.String() != `["alice","bob"]` {
		t.Errorf("post list: %d %s", w.Code, w.Body.String())
	}
	// A repeated mode is refused even without a body.
	r = httptestRequest(http.MethodGet, "/api/v1/auth/json?mode=list-accounts&mode=list-accounts", "")
	if w := env.do(r); w.Code != 400 {
		t.Errorf("repeated mode: %d %s", w.Code, w.Body.String())
	}
}
