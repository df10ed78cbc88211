package lua

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/testutil"
)

// fakeMailServer is an in-process SMTP/LMTP server that records what the
// client sent (C:) and what it answered (S:), and the DATA text.
type fakeMailServer struct {
	ln        net.Listener
	tlsConfig *tls.Config
	implicit  bool // TLS from the first byte
	startTLS  bool // offers STARTTLS
	auth      bool // offers AUTH PLAIN
	silent    bool // never greets (a slow server)

	mu         sync.Mutex
	transcript []string
	data       []string
	done       chan struct{}
}

func newFakeMailServer(t *testing.T, f *fakeMailServer) *fakeMailServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.ln, f.done = ln, make(chan struct{})
	go func() {
		defer close(f.done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.serve(c)
		}
	}()
	t.Cleanup(func() { ln.Close(); <-f.done })
	return f
}

func (f *fakeMailServer) port() int { return f.ln.Addr().(*net.TCPAddr).Port }

func (f *fakeMailServer) log(line string) {
	f.mu.Lock()
	f.transcript = append(f.transcript, line)
	f.mu.Unlock()
}

func (f *fakeMailServer) lines() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.transcript...)
}

func (f *fakeMailServer) serve(conn net.Conn) {
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	if f.silent {
		buf := make([]byte, 1)
		conn.Read(buf) // until the client gives up
		f.log("closed by client")
		return
	}
	if f.implicit {
		conn = tls.Server(conn, f.tlsConfig)
	}
	rd := bufio.NewReader(conn)
	say := func(lines ...string) {
		for _, l := range lines {
			f.log("S: " + l)
			conn.Write([]byte(l + "\r\n"))
		}
	}
	say("220 fake.test ESMTP")
	secure, rcpts, lmtp := f.implicit, 0, false
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		f.log("C: " + line)
		verb := strings.ToUpper(strings.SplitN(line, " ", 2)[0])
		switch verb {
		case "EHLO", "LHLO":
			lmtp = verb == "LHLO"
			reply := []string{"250-fake.test"}
			if f.startTLS && !secure {
				reply = append(reply, "250-STARTTLS")
			}
			if f.auth {
				reply = append(reply, "250-AUTH PLAIN")
			}
			say(append(reply, "250 HELP")...)
		case "STARTTLS":
			say("220 go ahead")
			tc := tls.Server(conn, f.tlsConfig)
			if err := tc.Handshake(); err != nil {
				f.log("TLS failed")
				return
			}
			f.log("-- TLS --")
			conn, rd, secure = tc, bufio.NewReader(tc), true
		case "AUTH":
			raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(line, "AUTH PLAIN "))
			if string(raw) == "\x00mailer\x00m41l-secret" {
				say("235 2.7.0 ok")
			} else {
				say("535 5.7.8 bad credentials")
			}
		case "MAIL":
			say("250 2.1.0 ok")
		case "RCPT":
			if strings.Contains(line, "reject") {
				say("550 5.1.1 no such user")
			} else {
				rcpts++
				say("250 2.1.5 ok")
			}
		case "DATA":
			say("354 go on")
			for {
				l, err := rd.ReadString('\n')
				if err != nil {
					return
				}
				l = strings.TrimRight(l, "\r\n")
				if l == "." {
					break
				}
				f.mu.Lock()
				f.data = append(f.data, l)
				f.mu.Unlock()
			}
			f.log("C: <message>")
			if lmtp {
				for range rcpts {
					say("250 2.0.0 delivered")
				}
			} else {
				say("250 2.0.0 queued")
			}
		case "QUIT":
			say("221 bye")
			return
		default:
			say("500 unknown")
		}
	}
}

// testCA makes a CA-signed certificate for 127.0.0.1 and "localhost".
func testCA(t *testing.T) (*tls.Config, *x509.CertPool) {
	t.Helper()
	ca := testutil.NewPKI(t)
	return &tls.Config{Certificates: []tls.Certificate{ca.Server(t, 2).Cert}}, ca.Pool()
}

func TestNauthilusMailModule(t *testing.T) {
	serverTLS, roots := testCA(t)
	plain := newFakeMailServer(t, &fakeMailServer{})
	lmtp := newFakeMailServer(t, &fakeMailServer{})
	starttls := newFakeMailServer(t, &fakeMailServer{tlsConfig: serverTLS, startTLS: true, auth: true})
	implicit := newFakeMailServer(t, &fakeMailServer{tlsConfig: serverTLS, implicit: true})
	rejecting := newFakeMailServer(t, &fakeMailServer{})
	silent := newFakeMailServer(t, &fakeMailServer{silent: true})

	cfg := config.LuaConfig{}
	cfg.Mail.AllowedHosts = []string{"127.0.0.1", "localhost"}
	cfg.Mail.Timeout = 500 * time.Millisecond
	src, err := readModuleScript("nauthilus_mail_send.lua", map[string]string{
		"PLAIN": strconv.Itoa(plain.port()), "LMTP": strconv.Itoa(lmtp.port()), "STARTTLS": strconv.Itoa(starttls.port()),
		"IMPLICIT": strconv.Itoa(implicit.port()), "REJECT": strconv.Itoa(rejecting.port()), "SILENT": strconv.Itoa(silent.port()),
	})
	if err != nil {
		t.Fatal(err)
	}
	e, logs := newEngineWith(t, engineSetup{cfg: cfg, filters: []config.LuaFilter{filter(t, "mail", src)}}, func(e *Engine) {
		hostValue(e.host, outboundRootsKey, func() *x509.CertPool { return roots })
	})
	if _, err := e.RunFilters(t.Context(), &Request{Username: "alice", Password: moduleTestPassword}); err != nil {
		t.Fatalf("%v\n%s", err, logs.String())
	}

	want := []string{
		"S: 220 fake.test ESMTP", "C: EHLO backline.test", "S: 250-fake.test", "S: 250 HELP",
		"C: MAIL FROM:<alerts@example.com>", "S: 250 2.1.0 ok",
		"C: RCPT TO:<ops@example.com>", "S: 250 2.1.5 ok", "C: RCPT TO:<second@example.com>", "S: 250 2.1.5 ok",
		"C: DATA", "S: 354 go on", "C: <message>", "S: 250 2.0.0 queued", "C: QUIT", "S: 221 bye",
	}
	if diff := cmp.Diff(want, plain.lines()); diff != "" {
		t.Errorf("SMTP transcript (-want +got):\n%s", diff)
	}
	headers := map[string]string{}
	for _, l := range plain.data {
		if k, v, ok := strings.Cut(l, ": "); ok {
			headers[k] = v
		}
	}
	if headers["From"] != `"Backline Alerts" <alerts@example.com>` || headers["To"] != "<ops@example.com>, <second@example.com>" ||
		headers["Subject"] != "=?utf-8?q?Login_from_M=C3=BCnchen?=" || headers["Date"] == "" ||
		!strings.HasSuffix(headers["Message-ID"], "@example.com>") {
		t.Errorf("headers: %q", headers)
	}
	if got := plain.data[len(plain.data)-2:]; got[0] != "line one" || got[1] != "..leading dot" {
		t.Errorf("body (dot-stuffed, CRLF): %q", got)
	}

	wantLMTP := []string{
		"S: 220 fake.test ESMTP", "C: LHLO localhost", "S: 250-fake.test", "S: 250 HELP",
		"C: MAIL FROM:<a@example.com>", "S: 250 2.1.0 ok", "C: RCPT TO:<b@example.com>", "S: 250 2.1.5 ok",
		"C: DATA", "S: 354 go on", "C: <message>", "S: 250 2.0.0 delivered", "C: QUIT", "S: 221 bye",
	}
	if diff := cmp.Diff(wantLMTP, lmtp.lines()); diff != "" {
		t.Errorf("LMTP transcript (-want +got):\n%s", diff)
	}

	wantTLS := []string{
		"S: 220 fake.test ESMTP", "C: EHLO localhost", "S: 250-fake.test", "S: 250-STARTTLS", "S: 250-AUTH PLAIN", "S: 250 HELP",
		"C: STARTTLS", "S: 220 go ahead", "-- TLS --",
		"C: EHLO backline.test", "S: 250-fake.test", "S: 250-AUTH PLAIN", "S: 250 HELP",
		"C: AUTH PLAIN AG1haWxlcgBtNDFsLXNlY3JldA==", "S: 235 2.7.0 ok",
		"C: MAIL FROM:<a@example.com>", "S: 250 2.1.0 ok", "C: RCPT TO:<b@example.com>", "S: 250 2.1.5 ok",
		"C: DATA", "S: 354 go on", "C: <message>", "S: 250 2.0.0 queued", "C: QUIT", "S: 221 bye",
	}
	// The script's second connection (a wrong password) follows.
	if diff := cmp.Diff(wantTLS, starttls.lines()[:len(wantTLS)]); diff != "" {
		t.Errorf("STARTTLS transcript (-want +got):\n%s", diff)
	}
	if l := implicit.lines(); len(l) < 2 || l[1] != "C: EHLO localhost" || l[len(l)-1] != "S: 221 bye" {
		t.Errorf("implicit TLS transcript: %q", l)
	}
	if l := rejecting.lines(); l[len(l)-1] != "S: 550 5.1.1 no such user" {
		t.Errorf("rejecting transcript: %q", l)
	}
	if l := silent.lines(); len(l) != 1 {
		t.Errorf("silent: %q", l)
	}
	for _, secret := range []string{moduleTestPassword, "m41l-secret", "wrong-pass"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("%q in logs", secret)
		}
	}
}

func readModuleScript(name string, repl map[string]string) (string, error) {
	src, err := readTestdata("modules/" + name)
	for k, v := range repl {
		src = strings.ReplaceAll(src, "{{"+k+"}}", v)
	}
	return src, err
}

func TestIsLoopbackHost(t *testing.T) {
	for host, want := range map[string]bool{"localhost": true, "127.0.0.1": true, "::1": true, "10.0.0.1": false, "mail.example.com": false} {
		if isLoopbackHost(host) != want {
			t.Errorf("%s", host)
		}
	}
}

// A server that never answers is cut off by script_timeout even when
// lua.config.mail.timeout is longer.
func TestSendMailSlowServerVsScriptTimeout(t *testing.T) {
	silent := newFakeMailServer(t, &fakeMailServer{silent: true})
	cfg := config.LuaConfig{ScriptTimeout: 150 * time.Millisecond}
	cfg.Mail = config.LuaMail{AllowedHosts: []string{"127.0.0.1"}, Timeout: time.Minute}
	_, err, _ := runOne(t, `function nauthilus_call_filter(request)
  local err = require("nauthilus_mail").send_mail({server = "127.0.0.1", port = `+strconv.Itoa(silent.port())+`,
    from = "a@example.com", to = {"b@example.com"}, subject = "s", body = "b"})
  error(err)
end`, engineSetup{cfg: cfg})
	// Either the VM noticed the deadline first, or send_mail returned its
	// error at the deadline and the script raised it.
	var se *ScriptError
	if !errors.As(err, &se) || !se.Timeout && !strings.Contains(se.Msg, "sending mail stopped") {
		t.Fatalf("want a timeout, got %v", err)
	}
}
