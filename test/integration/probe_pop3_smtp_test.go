package integration

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"go.uber.org/goleak"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/probe"
	"github.com/backline/backline/internal/testfixture"
	"github.com/backline/backline/internal/testutil"
)

// mailProbe is one deep check of a POP3/SMTP/LMTP port.
type mailProbe struct {
	name      string
	protocol  string
	port      string // fixture port name
	tlsMode   string
	mechanism string
	noCreds   bool
	plaintext bool   // allow_plaintext_auth (loopback lab servers without TLS)
	wantMech  string // Result.Mechanism on success
}

func deepCheck(t *testing.T, ct *config.Target) probe.Result {
	t.Helper()
	target, err := probe.NewTarget(ct)
	if err != nil {
		t.Fatalf("NewTarget: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return (&probe.Prober{}).Check(ctx, target, probe.PhaseDeep, probe.Options{Transcript: true})
}

func fixtureTarget(f *testfixture.Fixture, p mailProbe, password string) *config.Target {
	ct := &config.Target{
		Name: p.name, Protocol: p.protocol, Host: f.Host, Port: f.Port(p.port),
		TLSMode: p.tlsMode, TLSCAFile: f.CAFile, TLSServerName: f.ServerName,
		DeepCheck: true, AuthMechanism: p.mechanism, AllowPlaintextAuth: p.plaintext,
		ConnectTimeout: 5 * time.Second, TLSTimeout: 5 * time.Second, DeepTimeout: 15 * time.Second,
	}
	if !p.noCreds {
		ct.TestUsername, ct.TestPassword = f.User, password
	}
	return ct
}

func TestProbePOP3SMTPLMTPAgainstRealServers(t *testing.T) {
	f := testfixture.Load(t)
	probes := []mailProbe{
		{name: "A pop3 STLS USERPASS", protocol: "pop3", port: "DOVECOT_A_POP3", tlsMode: "starttls", mechanism: "USERPASS", wantMech: "USERPASS"},
		{name: "A pop3 STLS auto", protocol: "pop3", port: "DOVECOT_A_POP3", tlsMode: "starttls", mechanism: "auto", wantMech: "PLAIN"},
		{name: "A pop3s auto", protocol: "pop3", port: "DOVECOT_A_POP3S", tlsMode: "implicit", mechanism: "auto", wantMech: "PLAIN"},
		{name: "A pop3s LOGIN", protocol: "pop3", port: "DOVECOT_A_POP3S", tlsMode: "implicit", mechanism: "LOGIN", wantMech: "LOGIN"},
		{name: "D pop3 STLS auto", protocol: "pop3", port: "DOVECOT_D_POP3", tlsMode: "starttls", mechanism: "auto", wantMech: "LOGIN"},
		{name: "A submission STARTTLS auto", protocol: "smtp", port: "DOVECOT_A_SUBMISSION", tlsMode: "starttls", mechanism: "auto", wantMech: "PLAIN-IR"},
		{name: "A submissions auto", protocol: "smtp", port: "DOVECOT_A_SUBMISSIONS", tlsMode: "implicit", mechanism: "auto", wantMech: "PLAIN-IR"},
		{name: "A submissions LOGIN", protocol: "smtp", port: "DOVECOT_A_SUBMISSIONS", tlsMode: "implicit", mechanism: "LOGIN", wantMech: "LOGIN-IR"},
		{name: "D submission STARTTLS auto", protocol: "smtp", port: "DOVECOT_D_SUBMISSION", tlsMode: "starttls", mechanism: "auto", wantMech: "LOGIN-IR"},
		{name: "aiosmtpd smtp STARTTLS auto", protocol: "smtp", port: "AIOSMTPD_SMTP", tlsMode: "starttls", mechanism: "auto", wantMech: "PLAIN-IR"},
		{name: "aiosmtpd lmtp plaintext lab", protocol: "lmtp", port: "AIOSMTPD_LMTP", tlsMode: "plain", mechanism: "auto", plaintext: true, wantMech: "PLAIN-IR"},
	}
	for _, p := range probes {
		t.Run(p.name, func(t *testing.T) {
			res := deepCheck(t, fixtureTarget(f, p, f.Password))
			if !res.OK {
				t.Fatalf("check failed (%s): %v\n%s", res.Reason, res.Err, strings.Join(res.Transcript, "\n"))
			}
			if res.Mechanism != p.wantMech {
				t.Errorf("mechanism = %q, want %q", res.Mechanism, p.wantMech)
			}
			assertNoPassword(t, res, f.Password)
		})
		t.Run(p.name+" wrong password", func(t *testing.T) {
			const wrong = "wrong-password-for-the-probe"
			res := deepCheck(t, fixtureTarget(f, p, wrong))
			if res.OK || res.Reason != probe.ReasonAuth {
				t.Fatalf("want an auth failure, got ok=%v reason=%q err=%v\n%s", res.OK, res.Reason, res.Err, strings.Join(res.Transcript, "\n"))
			}
			assertNoPassword(t, res, wrong)
		})
	}

	t.Run("A lmtp without credentials is healthy", func(t *testing.T) {
		p := mailProbe{name: "A lmtp", protocol: "lmtp", port: "DOVECOT_A_LMTP", tlsMode: "plain", noCreds: true}
		res := deepCheck(t, fixtureTarget(f, p, ""))
		if !res.OK {
			t.Fatalf("check failed (%s): %v\n%s", res.Reason, res.Err, strings.Join(res.Transcript, "\n"))
		}
	})
	t.Run("A lmtp with credentials: no AUTH offered", func(t *testing.T) {
		p := mailProbe{name: "A lmtp", protocol: "lmtp", port: "DOVECOT_A_LMTP", tlsMode: "starttls", mechanism: "auto"}
		res := deepCheck(t, fixtureTarget(f, p, f.Password))
		var unavailable *probe.MechanismUnavailableError
		if res.OK || !errors.As(res.Err, &unavailable) || unavailable.Source != "LHLO" {
			t.Fatalf("want mechanism unavailable from LHLO, got ok=%v err=%v", res.OK, res.Err)
		}
	})
	t.Run("D pop3 USERPASS is advertised but refused", func(t *testing.T) {
		p := mailProbe{name: "D pop3", protocol: "pop3", port: "DOVECOT_D_POP3S", tlsMode: "implicit", mechanism: "USERPASS"}
		res := deepCheck(t, fixtureTarget(f, p, f.Password))
		if res.OK || res.Reason != probe.ReasonAuth || !strings.Contains(res.Err.Error(), "[AUTH]") {
			t.Fatalf("want [AUTH] refusal, got ok=%v reason=%q err=%v", res.OK, res.Reason, res.Err)
		}
	})
	t.Run("plaintext credentials are refused before any AUTH", func(t *testing.T) {
		p := mailProbe{name: "A submission plain", protocol: "smtp", port: "DOVECOT_A_SUBMISSION", tlsMode: "plain", mechanism: "auto"}
		res := deepCheck(t, fixtureTarget(f, p, f.Password))
		if res.OK || res.Reason != probe.ReasonConfig {
			t.Fatalf("want config refusal, got ok=%v reason=%q err=%v", res.OK, res.Reason, res.Err)
		}
		for _, line := range res.Transcript {
			if strings.HasPrefix(line, "C: AUTH") {
				t.Errorf("AUTH sent on a plain connection: %q", line)
			}
		}
	})
}

func assertNoPassword(t *testing.T, res probe.Result, password string) {
	t.Helper()
	texts := append([]string{}, res.Transcript...)
	if res.Err != nil {
		texts = append(texts, res.Err.Error())
	}
	b64 := base64.StdEncoding.EncodeToString
	for _, text := range texts {
		for _, secret := range []string{password, b64([]byte(password)), b64([]byte("\x00healthcheck-user\x00" + password))} {
			if strings.Contains(text, secret) {
				t.Errorf("password leaked in %q", text)
			}
		}
	}
}

// TestProbeSMTPAndLMTPAgainstGoSMTP covers AUTH that appears only after
// STARTTLS, on an in-process go-smtp server (SMTP and LMTP mode) with its
// own throw-away CA. It needs no fixture.
func TestProbeSMTPAndLMTPAgainstGoSMTP(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ca := newTestCA(t)
	for _, lmtp := range []bool{false, true} {
		protocol := "smtp"
		if lmtp {
			protocol = "lmtp"
		}
		t.Run(protocol, func(t *testing.T) {
			port := startGoSMTP(t, ca, lmtp)
			base := config.Target{
				Name: "gosmtp", Protocol: protocol, Host: "127.0.0.1", Port: port,
				TLSMode: "starttls", TLSCAFile: ca.file, DeepCheck: true, AuthMechanism: "auto",
				TestUsername: "healthcheck-user", TestPassword: "healthcheck-password",
				ConnectTimeout: 5 * time.Second, TLSTimeout: 5 * time.Second, DeepTimeout: 10 * time.Second,
			}

			ok := base
			res := deepCheck(t, &ok)
			if !res.OK || res.Mechanism != "PLAIN-IR" {
				t.Fatalf("ok=%v mechanism=%q err=%v\n%s", res.OK, res.Mechanism, res.Err, strings.Join(res.Transcript, "\n"))
			}
			assertNoPassword(t, res, base.TestPassword)

			wrong := base
			wrong.TestPassword = "not-the-password"
			res = deepCheck(t, &wrong)
			if res.OK || res.Reason != probe.ReasonAuth {
				t.Fatalf("wrong password: ok=%v reason=%q err=%v", res.OK, res.Reason, res.Err)
			}
			assertNoPassword(t, res, wrong.TestPassword)

			// Without TLS go-smtp offers no AUTH: opting in to plaintext on
			// loopback still finds nothing to log in with.
			plain := base
			plain.TLSMode, plain.AllowPlaintextAuth = "plain", true
			res = deepCheck(t, &plain)
			var unavailable *probe.MechanismUnavailableError
			if res.OK || !errors.As(res.Err, &unavailable) {
				t.Fatalf("plain: want mechanism unavailable, got ok=%v err=%v", res.OK, res.Err)
			}

			noCreds := base
			noCreds.TestUsername, noCreds.TestPassword = "", ""
			if res = deepCheck(t, &noCreds); !res.OK {
				t.Fatalf("no credentials: %v", res.Err)
			}
		})
	}
}

type testCA struct {
	file   string // CA certificate, PEM
	server *tls.Config
}

func newTestCA(t *testing.T) testCA {
	t.Helper()
	ca := testutil.NewPKI(t)
	return testCA{
		file:   ca.WriteCA(t, t.TempDir()),
		server: &tls.Config{Certificates: []tls.Certificate{ca.Server(t, 2).Cert}},
	}
}

// startGoSMTP serves SMTP (or LMTP) on loopback; AUTH PLAIN is offered only
// after STARTTLS and accepts healthcheck-user / healthcheck-password.
func startGoSMTP(t *testing.T, ca testCA, lmtp bool) int {
	t.Helper()
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &goSMTPSession{}, nil }))
	srv.Domain = "gosmtp.test"
	srv.LMTP = lmtp
	srv.TLSConfig = ca.server
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.ErrorLog = discardLog{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close(); <-done })
	return ln.Addr().(*net.TCPAddr).Port
}

type goSMTPSession struct{}

func (*goSMTPSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (*goSMTPSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user == "healthcheck-user" && pass == "healthcheck-password" {
			return nil
		}
		return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Authentication failed."}
	}), nil
}

func (*goSMTPSession) Reset()                               {}
func (*goSMTPSession) Logout() error                        { return nil }
func (*goSMTPSession) Mail(string, *smtp.MailOptions) error { return nil }
func (*goSMTPSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (*goSMTPSession) Data(r io.Reader) error               { _, err := io.Copy(io.Discard, r); return err }
func (*goSMTPSession) LMTPData(r io.Reader, _ smtp.StatusCollector) error {
	return (&goSMTPSession{}).Data(r)
}

type discardLog struct{}

func (discardLog) Printf(string, ...interface{}) {}
func (discardLog) Println(...interface{})        {}
