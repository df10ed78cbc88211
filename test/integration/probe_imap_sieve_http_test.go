package integration

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/probe"
	"github.com/backline/backline/internal/testfixture"
)

// probeCase is one deep check against a fixture server.
type probeCase struct {
	name      string
	target    config.Target
	reason    probe.Reason // ReasonNone: the check must pass
	mechanism string       // when passing
	contains  string       // when failing
}

func TestProbeIMAPSieveHTTP(t *testing.T) {
	f := testfixture.Load(t)
	target := func(protocol, port, mode string) config.Target {
		return config.Target{
			Protocol: protocol, Host: "127.0.0.1", Port: f.Port(port), TLSMode: mode,
			TLSCAFile: f.CAFile, DeepCheck: true, TestUsername: f.User, TestPassword: f.Password,
			AuthMechanism:  "auto",
			ConnectTimeout: 5 * time.Second, TLSTimeout: 5 * time.Second, DeepTimeout: 10 * time.Second,
		}
	}
	with := func(ct config.Target, change func(*config.Target)) config.Target {
		change(&ct)
		return ct
	}
	cases := []probeCase{
		{name: "Dovecot A imap STARTTLS", target: target("imap", "DOVECOT_A_IMAP", "starttls"), mechanism: "PLAIN-IR"},
		{name: "Dovecot A imaps", target: target("imap", "DOVECOT_A_IMAPS", "implicit"), mechanism: "PLAIN-IR"},
		{name: "Dovecot A imaps LOGIN", target: with(target("imap", "DOVECOT_A_IMAPS", "implicit"), func(ct *config.Target) {
			ct.AuthMechanism = "LOGIN"
		}), mechanism: "LOGIN-IR"},
		{name: "Dovecot A imap wrong password", target: with(target("imap", "DOVECOT_A_IMAPS", "implicit"), func(ct *config.Target) {
			ct.TestPassword = "wrong-password"
		}), reason: probe.ReasonAuth, contains: "AUTHENTICATIONFAILED"},
		{name: "Dovecot A imaps unknown CA", target: with(target("imap", "DOVECOT_A_IMAPS", "implicit"), func(ct *config.Target) {
			ct.TLSCAFile = f.OtherCAFile
		}), reason: probe.ReasonTLS, contains: "TLS handshake failed"},
		{name: "Dovecot A imap credentials without TLS", target: target("imap", "DOVECOT_A_IMAP", "plain"),
			reason: probe.ReasonConfig, contains: "refusing to send credentials"},
		{name: "Dovecot D imap LOGIN only", target: target("imap", "DOVECOT_D_IMAP", "starttls"), mechanism: "LOGIN"},
		{name: "Dovecot D imap explicit PLAIN", target: with(target("imap", "DOVECOT_D_IMAPS", "implicit"), func(ct *config.Target) {
			ct.AuthMechanism = "PLAIN"
		}), reason: probe.ReasonConfig, contains: "configured=PLAIN advertised=LOGIN"},
		{name: "Dovecot C via HAProxy send-proxy-v2", target: with(target("imap", "HAPROXY_SEND_PROXY_IMAP", "plain"), func(ct *config.Target) {
			ct.AllowPlaintextAuth = true // HAProxy relays from 127.0.0.1, which C trusts
		}), mechanism: "PLAIN-IR"},
		{name: "Dovecot C with PROXY v2 LOCAL", target: with(target("imap", "DOVECOT_C_IMAP", "starttls"), func(ct *config.Target) {
			ct.HAProxyV2 = true
		}), mechanism: "PLAIN-IR"},
		{name: "Dovecot C imaps with PROXY v2 LOCAL", target: with(target("imap", "DOVECOT_C_IMAPS", "implicit"), func(ct *config.Target) {
			ct.HAProxyV2 = true
		}), mechanism: "PLAIN-IR"},
		{name: "Dovecot C without PROXY header stays silent", target: with(target("imap", "DOVECOT_C_IMAP", "starttls"), func(ct *config.Target) {
			ct.DeepTimeout = time.Second
		}), reason: probe.ReasonTimeout, contains: "greeting"},
		{name: "HAProxy accept-proxy with a PROXY command", target: with(target("imap", "HAPROXY_ACCEPT_PROXY_IMAP", "starttls"), func(ct *config.Target) {
			ct.HAProxyV2, ct.HAProxyV2Command = true, "proxy"
		}), mechanism: "PLAIN-IR"},
		{name: "Dovecot A sieve", target: target("sieve", "DOVECOT_A_SIEVE", "starttls"), mechanism: "PLAIN"},
		{name: "Dovecot A sieve LOGIN", target: with(target("sieve", "DOVECOT_A_SIEVE", "starttls"), func(ct *config.Target) {
			ct.AuthMechanism = "LOGIN"
		}), mechanism: "LOGIN"},
		{name: "Dovecot D sieve", target: target("sieve", "DOVECOT_D_SIEVE", "starttls"), mechanism: "LOGIN"},
		{name: "Dovecot A sieve wrong password", target: with(target("sieve", "DOVECOT_A_SIEVE", "starttls"), func(ct *config.Target) {
			ct.TestPassword = "wrong-password"
		}), reason: probe.ReasonAuth, contains: "sieve AUTHENTICATE PLAIN failed"},
		{name: "nginx https Basic", target: target("http", "NGINX_HTTPS", "implicit"), mechanism: "BASIC"},
		{name: "nginx http Basic on loopback", target: with(target("http", "NGINX_HTTP", "plain"), func(ct *config.Target) {
			ct.AllowPlaintextAuth = true
		}), mechanism: "BASIC"},
		{name: "nginx https wrong password", target: with(target("http", "NGINX_HTTPS", "implicit"), func(ct *config.Target) {
			ct.TestPassword = "wrong-password"
		}), reason: probe.ReasonAuth, contains: "HTTP request failed: HTTP/1.1 401 Unauthorized"},
		{name: "nginx https /fail", target: with(target("http", "NGINX_HTTPS", "implicit"), func(ct *config.Target) {
			ct.RequestURI = "/fail"
		}), reason: probe.ReasonProtocol, contains: "HTTP request failed: HTTP/1.1 503"},
		{name: "nginx https /nocontent", target: with(target("http", "NGINX_HTTPS", "implicit"), func(ct *config.Target) {
			ct.RequestURI = "/nocontent"
		}), reason: probe.ReasonProtocol, contains: "HTTP request failed: HTTP/1.1 204"},
		{name: "nginx http /public without credentials", target: with(target("http", "NGINX_HTTP", "plain"), func(ct *config.Target) {
			ct.RequestURI, ct.TestUsername, ct.TestPassword = "/public", "", ""
		})},
	}
	secrets := []string{
		f.Password,
		base64.StdEncoding.EncodeToString([]byte(f.Password)),
		base64.StdEncoding.EncodeToString([]byte("\x00" + f.User + "\x00" + f.Password)),
		base64.StdEncoding.EncodeToString([]byte(f.User + ":" + f.Password)),
	}
	p := &probe.Prober{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tg, err := probe.NewTarget(&tc.target)
			if err != nil {
				t.Fatal(err)
			}
			res := p.Check(context.Background(), tg, probe.PhaseDeep, probe.Options{Transcript: true})
			transcript := strings.Join(res.Transcript, "\n")
			for _, text := range append(res.Transcript, errText(res.Err)) {
				for _, secret := range secrets {
					if strings.Contains(text, secret) {
						t.Errorf("secret leaked in %q", text)
					}
				}
			}
			if tc.reason == probe.ReasonNone {
				if !res.OK {
					t.Fatalf("check failed: %s: %v\n%s", res.Reason, res.Err, transcript)
				}
				if res.Mechanism != tc.mechanism {
					t.Errorf("mechanism = %q, want %q", res.Mechanism, tc.mechanism)
				}
				return
			}
			if res.OK {
				t.Fatalf("check passed, want %s\n%s", tc.reason, transcript)
			}
			if res.Reason != tc.reason || !strings.Contains(res.Err.Error(), tc.contains) {
				t.Errorf("got %s: %v; want %s containing %q\n%s", res.Reason, res.Err, tc.reason, tc.contains, transcript)
			}
			var me *probe.MechanismUnavailableError
			if tc.reason == probe.ReasonConfig && strings.Contains(tc.contains, "configured=") && !errors.As(res.Err, &me) {
				t.Errorf("err %T is not a MechanismUnavailableError", res.Err)
			}
		})
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
