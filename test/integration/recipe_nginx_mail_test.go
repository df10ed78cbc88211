package integration

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/smtp"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/testfixture"
)

// TestRecipeNginxMailProxy runs docs/recipes/nginx-mail-proxy.md: the
// recipe's backline.yml and nginx mail block, changed only in addresses,
// ports and file paths, in front of the fixture's Dovecot A (192.0.2.11 in
// the recipe) and B (192.0.2.12).
func TestRecipeNginxMailProxy(t *testing.T) {
	f := testfixture.Load(t)
	for _, p := range []string{nginxBinary, nginxMailModule} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("nginx with the mail module is required (scripts/install-deps.sh): %v", err)
		}
	}
	const recipe = "nginx-mail-proxy.md"
	const apiUser, apiPW = "mailproxy", "change-me-please"
	dir := t.TempDir()
	user, pw := f.AliceUser, f.AlicePassword
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	pwFile := filepath.Join(dir, "api-password")
	writeFile(t, pwFile, apiPW+"\n")

	port := func(key string) string { return strconv.Itoa(f.Port(key)) }
	cfg := recipeSubst(t, recipeBlock(t, recipe, "backline.yml"),
		"127.0.0.1:9080", addr,
		"/etc/backline/api-password", pwFile,
		"/etc/backline/mail-ca.pem", f.Get("CA_FILE"),
		"host: 192.0.2.11, port: 143,", "host: 127.0.0.1, port: "+port("DOVECOT_A_IMAP")+",",
		"host: 192.0.2.12, port: 143,", "host: 127.0.0.1, port: "+port("DOVECOT_B_IMAP")+",",
		"host: 192.0.2.11, port: 110,", "host: 127.0.0.1, port: "+port("DOVECOT_A_POP3")+",",
		"host: 192.0.2.12, port: 110,", "host: 127.0.0.1, port: "+port("DOVECOT_B_POP3")+",",
		"host: 192.0.2.11, port: 587,", "host: 127.0.0.1, port: "+port("DOVECOT_A_SUBMISSION")+",",
		"host: 192.0.2.12, port: 587,", "host: 127.0.0.1, port: "+port("DOVECOT_B_SUBMISSION")+",",
	)
	// The recipe's Lua filter pins the fixture's other user (bob@example.net
	// in the recipe) to Dovecot B.
	luaScript := filepath.Join(dir, "moved.lua")
	writeFile(t, luaScript, recipeSubst(t, recipeBlock(t, recipe, "moved.lua"),
		`["bob@example.net"] = true`, fmt.Sprintf("[%q] = true", f.User)))
	cfg += recipeSubst(t, recipeBlock(t, recipe, "backline-lua.yml"), "/etc/backline/moved.lua", luaScript)
	bl := serveBackline(t, buildBackline(t), dir, addr, apiUser, apiPW, cfg, pw, f.Password)
	bl.waitHealthy("a-imap", "b-imap", "a-pop3", "b-pop3", "a-smtp", "b-smtp")

	imapPort, pop3Port, smtpPort := freePort(t), freePort(t), freePort(t)
	mailBlock := recipeSubst(t, recipeBlock(t, recipe, "nginx.conf"),
		"127.0.0.1:9080", addr,
		"/etc/nginx/tls/mail.pem", f.Get("CERT_FILE"),
		"/etc/nginx/tls/mail.key", f.Get("KEY_FILE"),
		"listen   143;", fmt.Sprintf("listen 127.0.0.1:%d;", imapPort),
		"listen    110;", fmt.Sprintf("listen 127.0.0.1:%d;", pop3Port),
		"listen          587;", fmt.Sprintf("listen 127.0.0.1:%d;", smtpPort),
	)
	imapAddr := fmt.Sprintf("127.0.0.1:%d", imapPort)
	pop3Addr := fmt.Sprintf("127.0.0.1:%d", pop3Port)
	smtpAddr := fmt.Sprintf("127.0.0.1:%d", smtpPort)
	runNginxMail(t, dir, mailBlock, imapAddr, pop3Addr, smtpAddr)
	tlsConf := f.TLSConfig()

	imap := func(password, want string) string {
		return imapStartTLSLogin(t, imapAddr, tlsConf, user, password, want)
	}
	pop3 := func(password, want string) string {
		return pop3STLSLogin(t, pop3Addr, tlsConf, user, password, want)
	}
	submit := func() { smtpSubmit(t, smtpAddr, tlsConf, user, pw) }

	t.Run("logins with STARTTLS land on Dovecot A", func(t *testing.T) {
		expectLogin(t, f, "DOVECOT_A", "imap-login", user, func() { imap(pw, "OK") })
		expectLogin(t, f, "DOVECOT_A", "pop3-login", user, func() { pop3(pw, "+OK") })
		expectLogin(t, f, "DOVECOT_A", "submission-login", user, submit)
	})
	t.Run("the Lua filter pins a moved user to Dovecot B", func(t *testing.T) {
		imapStartTLSLogin(t, imapAddr, tlsConf, f.User, f.Password, "OK")
		// backend_login checks the password on A (the first eligible
		// target), so Dovecot's logs see the user on both: nginx's log
		// names the upstream of the session.
		needle := fmt.Sprintf("login: %q, upstream: 127.0.0.1:%d", f.User, f.Port("DOVECOT_B_IMAP"))
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			if strings.Contains(string(log), needle) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("nginx did not log %q", needle)
			}
		}
		expectLogin(t, f, "DOVECOT_A", "imap-login", user, func() { imap(pw, "OK") })
	})
	t.Run("no password before STARTTLS", func(t *testing.T) {
		m := dialMail(t, imapAddr)
		m.line()
		m.send(fmt.Sprintf("a1 LOGIN %q %q", user, pw))
		if l := m.line(); !strings.HasPrefix(l, "a1 BAD") && !strings.HasPrefix(l, "a1 NO") {
			t.Errorf("LOGIN before STARTTLS: %q, want a refusal", l)
		}
	})
	t.Run("wrong password gets backline's failure message", func(t *testing.T) {
		if l := imap("not-"+pw, "NO"); !strings.Contains(l, "Invalid login or password") {
			t.Errorf("IMAP: %q", l)
		}
		if l := pop3("not-"+pw, "-ERR"); !strings.Contains(l, "Invalid login or password") {
			t.Errorf("POP3: %q", l)
		}
		c := smtpStartTLS(t, smtpAddr, tlsConf)
		defer c.Close()
		err := c.Auth(smtp.PlainAuth("", user, "not-"+pw, "127.0.0.1"))
		var reply *textproto.Error
		if !errors.As(err, &reply) || reply.Code != 535 || !strings.HasPrefix(reply.Msg, "5.7.8 Invalid login or password") {
			t.Errorf("SMTP AUTH with a wrong password: %v, want 535 5.7.8 and the failure message", err)
		}
	})
	t.Run("A forced down: the next logins land on B", func(t *testing.T) {
		ids := []string{"a-imap", "a-pop3", "a-smtp"}
		for _, id := range ids {
			if code, body := bl.api(http.MethodPut, "/api/v1/backends/"+id+"/admin", `{"health":"down","why":"kernel update"}`); code != http.StatusOK {
				t.Fatalf("PUT %s/admin: %d %s", id, code, body)
			}
		}
		expectLogin(t, f, "DOVECOT_B", "imap-login", user, func() { imap(pw, "OK") })
		expectLogin(t, f, "DOVECOT_B", "pop3-login", user, func() { pop3(pw, "+OK") })
		expectLogin(t, f, "DOVECOT_B", "submission-login", user, submit)
		for _, id := range ids {
			if code, body := bl.api(http.MethodDelete, "/api/v1/backends/"+id+"/admin", ""); code != http.StatusOK {
				t.Fatalf("DELETE %s/admin: %d %s", id, code, body)
			}
		}
		expectLogin(t, f, "DOVECOT_A", "imap-login", user, func() { imap(pw, "OK") })
	})
}

// runNginxMail runs nginx in the foreground (no master, no daemon) with a
// mail block and waits until every address accepts connections.
func runNginxMail(t *testing.T, dir, mailBlock string, addrs ...string) {
	t.Helper()
	conf := fmt.Sprintf("load_module %s;\ndaemon off;\nmaster_process off;\npid %s/nginx.pid;\nerror_log %s/error.log info;\nevents { worker_connections 64; }\n%s",
		nginxMailModule, dir, dir, mailBlock)
	writeFile(t, filepath.Join(dir, "nginx.conf"), conf)
	cmd := exec.Command(nginxBinary, "-e", filepath.Join(dir, "error.log"), "-p", dir, "-c", filepath.Join(dir, "nginx.conf"))
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting nginx: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			errLog, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Logf("nginx.conf:\n%s\nnginx output:\n%s\nnginx error.log:\n%s", conf, out.String(), errLog)
		}
	})
	for _, addr := range addrs {
		for i := 0; ; i++ {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case err := <-exited:
				t.Fatalf("nginx exited: %v\n%s", err, out.String())
			default:
			}
			if i >= 100 {
				t.Fatalf("nginx does not listen on %s: %v\n%s", addr, err, out.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// startTLS switches m to TLS after the server agreed to it.
func (m *mailConn) startTLS(conf *tls.Config) {
	m.t.Helper()
	tc := tls.Client(m.c, conf)
	if err := tc.Handshake(); err != nil {
		m.t.Fatalf("TLS handshake: %v", err)
	}
	m.c = tc
	m.rd.Reset(tc)
}

// imapStartTLSLogin logs in with STARTTLS then LOGIN and returns the LOGIN
// answer, which must start with want.
func imapStartTLSLogin(t *testing.T, addr string, conf *tls.Config, user, password, want string) string {
	t.Helper()
	m := dialMail(t, addr)
	if g := m.line(); !strings.HasPrefix(g, "* OK") {
		t.Fatalf("greeting %q", g)
	}
	m.send("a0 STARTTLS")
	if l := m.line(); !strings.HasPrefix(l, "a0 OK") {
		t.Fatalf("STARTTLS: %q", l)
	}
	m.startTLS(conf)
	m.send(fmt.Sprintf("a1 LOGIN %q %q", user, password))
	for {
		l := m.line()
		if !strings.HasPrefix(l, "a1 ") {
			continue
		}
		if !strings.HasPrefix(l, "a1 "+want) {
			t.Fatalf("LOGIN %s: %q, want %s", user, l, want)
		}
		if want == "OK" {
			m.send("a2 LOGOUT")
			for !strings.HasPrefix(m.line(), "a2 ") {
			}
		}
		return l
	}
}

// pop3STLSLogin logs in with STLS then USER/PASS and returns the PASS answer.
func pop3STLSLogin(t *testing.T, addr string, conf *tls.Config, user, password, want string) string {
	t.Helper()
	m := dialMail(t, addr)
	if g := m.line(); !strings.HasPrefix(g, "+OK") {
		t.Fatalf("greeting %q", g)
	}
	m.send("STLS")
	if l := m.line(); !strings.HasPrefix(l, "+OK") {
		t.Fatalf("STLS: %q", l)
	}
	m.startTLS(conf)
	m.send("USER " + user)
	if l := m.line(); !strings.HasPrefix(l, "+OK") {
		t.Fatalf("USER: %q", l)
	}
	m.send("PASS " + password)
	l := m.line()
	if !strings.HasPrefix(l, want) {
		t.Fatalf("PASS for %s: %q, want %s", user, l, want)
	}
	if want == "+OK" {
		m.send("QUIT")
		m.line()
	}
	return l
}

// smtpStartTLS connects, says EHLO and switches to TLS.
func smtpStartTLS(t *testing.T, addr string, conf *tls.Config) *smtp.Client {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	c, err := smtp.NewClient(conn, "127.0.0.1")
	if err != nil {
		conn.Close()
		t.Fatal(err)
	}
	if err := c.Hello("client.example.net"); err != nil {
		c.Close()
		t.Fatal(err)
	}
	if ok, _ := c.Extension("STARTTLS"); !ok {
		c.Close()
		t.Fatal("nginx does not offer STARTTLS on the submission port")
	}
	if ok, _ := c.Extension("AUTH"); ok {
		c.Close()
		t.Fatal("nginx offers AUTH before STARTTLS (starttls only)")
	}
	if err := c.StartTLS(conf); err != nil {
		c.Close()
		t.Fatal(err)
	}
	return c
}

// smtpSubmit authenticates and sends one message through the proxy; Dovecot's
// submission relays it to the fixture's relay sink.
func smtpSubmit(t *testing.T, addr string, conf *tls.Config, user, password string) {
	t.Helper()
	c := smtpStartTLS(t, addr, conf)
	defer c.Close()
	if err := c.Auth(smtp.PlainAuth("", user, password, "127.0.0.1")); err != nil {
		t.Fatalf("AUTH PLAIN: %v", err)
	}
	if err := c.Mail(user + "@backline.test"); err != nil {
		t.Fatalf("MAIL FROM: %v", err)
	}
	if err := c.Rcpt("bob@backline.test"); err != nil {
		t.Fatalf("RCPT TO: %v", err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatalf("DATA: %v", err)
	}
	fmt.Fprintf(w, "From: %s@backline.test\r\nTo: bob@backline.test\r\nSubject: recipe\r\n\r\nthrough nginx\r\n", user)
	if err := w.Close(); err != nil {
		t.Fatalf("end of DATA: %v", err)
	}
	if err := c.Quit(); err != nil {
		t.Fatalf("QUIT: %v", err)
	}
}
