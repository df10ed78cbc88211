package integration

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/probe"
	"github.com/backline/backline/internal/testfixture"
)

// TestBackendLoginLineBreakNeverReachesDovecot (issue 9 item 3): with
// `passdb: backend_login`, a password or user name carrying CR, LF or NUL
// (nginx URL-encodes them: `Auth-Pass: pw%0d%0aDELE%201`) is refused by
// every endpoint as a failed login (200 on nginx, 403 on header and json,
// Auth-Status the failure message), and no login attempt reaches the real Dovecot
// POP3 backend. The same holds for a POP3 client that smuggles the line
// break through a real nginx mail proxy inside AUTH PLAIN's base64.
//
// Dovecot's log is the witness: after the hostile requests, one valid
// backend_login of the same user runs as a barrier; once its session has
// been logged, the log since the start must hold that login and no failed
// attempt. (On 6e90d09 each hostile request became an AUTH PLAIN login with
// the broken value, which Dovecot refused: "auth failed" lines. Inside
// PLAIN's base64 the CR LF could not start a command here; a POP3 server
// that offers only USER/PASS would have read DELE 1 as one, and
// TestNginxNeverForwardsLineBreaksToDovecot shows that on the real servers.)
func TestBackendLoginLineBreakNeverReachesDovecot(t *testing.T) {
	f := testfixture.Load(t)
	user, password := f.AliceUser, f.AlicePassword
	hs := newMailHealth(&probe.Target{
		Name: "b-pop3", Protocol: "pop3", Host: f.Host, Port: f.Port("DOVECOT_B_POP3"), TLSMode: probe.TLSPlain,
		AllowPlaintextAuth: true, // a line protocol on the wire, as in the report; Dovecot trusts loopback
		ConnectTimeout:     5 * time.Second, DeepTimeout: 5 * time.Second,
	})
	cfg := &config.Config{}
	cfg.Auth.Passdb = []config.Passdb{{Type: config.PassdbBackendLogin}}
	cfg.Auth.Nginx.FailureMessage = nginxFailMessage
	logs := &lockedBuffer{}
	sw := &swapHandler{}
	sw.set(newAuthHandler(t, cfg, hs, logs))
	answers := &answerLog{next: sw}
	authAddr := serveAuth(t, answers)
	base := "http://" + authAddr + "/api/v1/auth/"

	logStart := len(f.ReadLog("DOVECOT_B"))
	injected := password + "\r\nDELE 1"
	b64url := base64.URLEncoding.EncodeToString([]byte(injected))
	nginxHeaders := func(u, p string) map[string]string {
		return map[string]string{"Auth-Method": "plain", "Auth-User": u, "Auth-Pass": p, "Auth-Protocol": "pop3",
			"Auth-Login-Attempt": "0", "Client-IP": "127.0.0.1"}
	}
	cases := []struct {
		name, endpoint string
		headers        map[string]string
		body           string
	}{
		{"nginx: CRLF in Auth-Pass", "nginx", nginxHeaders(user, password+"%0d%0aDELE%201"), ""},
		{"nginx: bare LF in Auth-Pass", "nginx", nginxHeaders(user, password+"%0aDELE%201"), ""},
		{"nginx: NUL in Auth-Pass", "nginx", nginxHeaders(user, password+"%00DELE%201"), ""},
		{"nginx: CRLF in Auth-User", "nginx", nginxHeaders(user+"%0d%0aDELE%201", password), ""},
		{"header: base64url password with CRLF", "header", map[string]string{"Auth-User": user, "Auth-Pass": b64url,
			"X-Auth-Password-Encoded": "1", "Auth-Protocol": "pop3"}, ""},
		{"json: CRLF in password", "json", nil,
			fmt.Sprintf(`{"username":%q,"password":"%s\r\nDELE 1","protocol":"pop3"}`, user, password)},
		{"json: CRLF in username", "json", nil,
			fmt.Sprintf(`{"username":"%s\r\nDELE 1","password":%q,"protocol":"pop3"}`, user, password)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, header, body := authRequest(t, base+c.endpoint, c.headers, c.body)
			want := http.StatusForbidden
			if c.endpoint == "nginx" {
				want = http.StatusOK
			}
			if status != want || header.Get("Auth-Status") != nginxFailMessage {
				t.Errorf("status %d, Auth-Status %q, want %d and %q (a failed login, refused before any backend); body %q",
					status, header.Get("Auth-Status"), want, nginxFailMessage, body)
			}
			if header.Get("Auth-Server") != "" || header.Get("Auth-Port") != "" {
				t.Errorf("a refused request names a backend: %v", header)
			}
			if strings.Contains(body, password) || strings.Contains(fmt.Sprint(header), password) {
				t.Errorf("the answer echoes the password: %v %q", header, body)
			}
		})
	}

	t.Run("through nginx: AUTH PLAIN with CRLF in the password", func(t *testing.T) {
		_, pop3Addr := startNginx(t, t.TempDir(), authAddr)
		m := pop3AuthPlainPrompt(t, pop3Addr)
		asked := len(answers.all())
		m.send(base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + injected)))
		l := m.line()
		if !strings.HasPrefix(l, "-ERR") {
			t.Fatalf("AUTH PLAIN with a line break in the password: %q, want -ERR", l)
		}
		// nginx asked backline (the refusal is not nginx's own) and was told no.
		got := answers.all()[asked:]
		if len(got) != 1 || got[0].Get("Auth-Status") == "" || got[0].Get("Auth-Status") == "OK" {
			t.Fatalf("backline's answers to nginx: %v, want one refusal", got)
		}
		t.Logf("client got %q; nginx was told Auth-Status %q", l, got[0].Get("Auth-Status"))
	})

	// The barrier: the same user, the same path, a clean password.
	status, header, body := authRequest(t, base+"header",
		map[string]string{"Auth-User": user, "Auth-Pass": password, "Auth-Protocol": "pop3"}, "")
	if status != http.StatusOK {
		t.Fatalf("valid backend_login: status %d %v %q", status, header, body)
	}
	seen := logUntilPOP3Session(t, f, "DOVECOT_B", logStart, user)
	for _, bad := range []string{"auth failed", "Password mismatch", "DELE"} {
		if strings.Contains(seen, bad) {
			t.Errorf("a hostile request reached Dovecot B (%q in its log):\n%s", bad, seen)
		}
	}
	if n := strings.Count(seen, "pop3-login: Info: Login: user=<"+user+">"); n != 1 {
		t.Errorf("Dovecot B logged %d POP3 logins of %s, want only the barrier's:\n%s", n, user, seen)
	}
	if strings.Contains(logs.String(), password) {
		t.Errorf("backline logged a password:\n%s", logs.String())
	}
}

// authRequest sends one auth request (GET with headers, or POST with a
// JSON body) and returns the status, headers and body.
func authRequest(t *testing.T, url string, headers map[string]string, jsonBody string) (int, http.Header, string) {
	t.Helper()
	method, body := http.MethodGet, io.Reader(nil)
	if jsonBody != "" {
		method, body = http.MethodPost, strings.NewReader(jsonBody)
	}
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if jsonBody != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	// No keep-alive: no client goroutines outlive the request (goleak in
	// TestNginxMailAuth).
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, resp.Header, string(b)
}

// TestNginxNeverForwardsLineBreaksToDovecot (issue 9 item 3, every
// endpoint): why a passdb that would accept the password is no excuse. nginx
// logs in to a POP3 upstream with USER/PASS, writing the password from the
// client's AUTH PLAIN onto the PASS line as it is. If backline said OK to
// `alice-secret\r\nDELE 1` (here: a passwd-file entry with nopassword),
// Dovecot would read PASS and then DELE 1 as the client's next command. So
// the client must get -ERR and alice's mailbox must keep its message. (On
// 6e90d09 the answer was OK and Dovecot logged the session with del=1.)
func TestNginxNeverForwardsLineBreaksToDovecot(t *testing.T) {
	f := testfixture.Load(t)
	user, password := f.AliceUser, f.AlicePassword
	dir := t.TempDir()
	passwd := filepath.Join(dir, "passwd")
	writeFile(t, passwd, fmt.Sprintf("%s:{PLAIN}unused:::::: nopassword\n", user))
	cfg := &config.Config{}
	cfg.Auth.Passdb = []config.Passdb{{Type: config.PassdbPasswdFile, Path: passwd}}
	cfg.Auth.Nginx.FailureMessage = nginxFailMessage
	hs := newMailHealth(&probe.Target{
		Name: "a-pop3", Protocol: "pop3", Host: f.Host, Port: f.Port("DOVECOT_A_POP3"), TLSMode: probe.TLSPlain})
	logs := &lockedBuffer{}
	sw := &swapHandler{}
	sw.set(newAuthHandler(t, cfg, hs, logs))
	_, pop3Addr := startNginx(t, dir, serveAuth(t, sw))

	lmtpDeliver(t, f.Addr("DOVECOT_A_LMTP"), user)
	logStart := len(f.ReadLog("DOVECOT_A"))
	before := pop3Stat(t, f.Addr("DOVECOT_A_POP3"), user, password)
	if before < 1 {
		t.Fatalf("%s has %d messages after a delivery", user, before)
	}
	logUntilPOP3Session(t, f, "DOVECOT_A", logStart, user) // that session is in the log
	logStart = len(f.ReadLog("DOVECOT_A"))

	m := pop3AuthPlainPrompt(t, pop3Addr)
	m.send(base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + password + "\r\nDELE 1")))
	l := m.line()
	if !strings.HasPrefix(l, "-ERR") {
		t.Errorf("AUTH PLAIN with DELE 1 after the password: %q, want -ERR", l)
	}
	m.send("QUIT")
	m.c.Close()

	if after := pop3Stat(t, f.Addr("DOVECOT_A_POP3"), user, password); after != before {
		t.Errorf("%s had %d messages, now %d: DELE 1 reached Dovecot", user, before, after)
	}
	// pop3Stat's own session is the barrier: every session before it has
	// been logged once it has.
	seen := logUntilPOP3Session(t, f, "DOVECOT_A", logStart, user)
	if n := strings.Count(seen, "pop3-login: Info: Login: user=<"+user+">"); n != 1 || strings.Contains(seen, "del=1") {
		t.Errorf("Dovecot A logged %d POP3 logins of %s (want only pop3Stat's) or a deletion:\n%s", n, user, seen)
	}
	if strings.Contains(logs.String(), password) {
		t.Errorf("backline logged a password:\n%s", logs.String())
	}
}

// lmtpDeliver delivers one short message to rcpt over LMTP.
func lmtpDeliver(t *testing.T, addr, rcpt string) {
	t.Helper()
	m := dialMail(t, addr)
	_ = m.c.SetDeadline(time.Now().Add(10 * time.Second))
	expect := func(prefix string) {
		t.Helper()
		for {
			l := m.line()
			if !strings.HasPrefix(l, prefix) {
				t.Fatalf("LMTP: %q, want %s", l, prefix)
			}
			if len(l) < 4 || l[3] != '-' {
				return
			}
		}
	}
	expect("220")
	for _, step := range []struct{ cmd, want string }{
		{"LHLO backline.test", "250"}, {"MAIL FROM:<test@backline.test>", "250"},
		{"RCPT TO:<" + rcpt + ">", "250"}, {"DATA", "354"},
		{"Subject: issue 9 item 3\r\n\r\nkeep me\r\n.", "250"}, {"QUIT", "221"},
	} {
		m.send(step.cmd)
		expect(step.want)
	}
}

// pop3Stat logs in to a POP3 server with USER/PASS and returns the message
// count from STAT.
func pop3Stat(t *testing.T, addr, user, password string) int {
	t.Helper()
	m := dialMail(t, addr)
	_ = m.c.SetDeadline(time.Now().Add(10 * time.Second))
	for _, cmd := range []string{"", "USER " + user, "PASS " + password} {
		if cmd != "" {
			m.send(cmd)
		}
		if l := m.line(); !strings.HasPrefix(l, "+OK") {
			t.Fatalf("POP3 %q: %q", strings.Fields(cmd + " greeting")[0], l)
		}
	}
	m.send("STAT")
	var n, size int
	l := m.line()
	if _, err := fmt.Sscanf(l, "+OK %d %d", &n, &size); err != nil {
		t.Fatalf("STAT: %q", l)
	}
	m.send("QUIT")
	m.line()
	return n
}

// pop3AuthPlainPrompt connects to POP3 at addr (10 s for the whole
// session), sends AUTH PLAIN without an initial response and returns once
// the server asks for it.
func pop3AuthPlainPrompt(t *testing.T, addr string) *mailConn {
	t.Helper()
	m := dialMail(t, addr)
	_ = m.c.SetDeadline(time.Now().Add(10 * time.Second))
	if g := m.line(); !strings.HasPrefix(g, "+OK") {
		t.Fatalf("greeting %q", g)
	}
	m.send("AUTH PLAIN")
	if l := m.line(); !strings.HasPrefix(l, "+") {
		t.Fatalf("AUTH PLAIN: %q", l)
	}
	return m
}
