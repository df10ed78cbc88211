package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/probe"
	"github.com/backline/backline/internal/testfixture"
)

// politeProbe is one connect-only check of a Dovecot A port and the line
// Dovecot logs for a client that said goodbye before logging in.
type politeProbe struct {
	protocol, port, tlsMode string
	logout                  string
}

var politeProbes = []politeProbe{
	{"imap", "DOVECOT_A_IMAP", "plain", "imap-login: Info: Disconnected: Aborted login by logging out (no auth attempts"},
	{"imap", "DOVECOT_A_IMAPS", "implicit", "imap-login: Info: Disconnected: Aborted login by logging out (no auth attempts"},
	{"pop3", "DOVECOT_A_POP3", "plain", "pop3-login: Info: Disconnected: Aborted login by logging out (no auth attempts"},
	{"smtp", "DOVECOT_A_SUBMISSION", "plain", "submission-login: Info: Disconnected: Aborted login by logging out (no auth attempts"},
	{"lmtp", "DOVECOT_A_LMTP", "plain", "Info: Disconnect from 127.0.0.1: Logged out (state=GREETING)"},
	{"sieve", "DOVECOT_A_SIEVE", "plain", "managesieve-login: Info: Disconnected: Aborted login by logging out (no auth attempts"},
}

// connectCheck runs a connect-only check of a validated one-target
// configuration, as the daemon does.
func connectCheck(t *testing.T, f *testfixture.Fixture, p politeProbe, mode string) probe.Result {
	t.Helper()
	yml := "auth:\n  services:\n    enabled: [backend_health_checks]\n    backend_health_checks:\n      targets:\n" +
		"        - protocol: " + p.protocol + "\n          host: " + f.Host + "\n          port: " + f.Get(p.port) +
		"\n          tls_mode: " + p.tlsMode + "\n          tls_ca_file: " + f.CAFile + "\n          tls_server_name: " + f.ServerName +
		"\n          connect_check: " + mode + "\n"
	c, err := config.Parse([]byte(yml))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	target, err := probe.NewTarget(&c.Auth.Services.BackendHealthChecks.Targets[0])
	if err != nil {
		t.Fatalf("NewTarget: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res := (&probe.Prober{}).Check(ctx, target, probe.PhaseConnect, probe.Options{Transcript: true})
	if !res.OK {
		t.Fatalf("check failed (%s): %v\n%s", res.Reason, res.Err, strings.Join(res.Transcript, "\n"))
	}
	return res
}

// A connect-only check says goodbye, so Dovecot logs a client that logged
// out ("Aborted login by logging out") rather than one whose connection
// closed (demand #6 of the peers matrix; haproxy#1812). Dovecot 2.3 logs
// one Info line for every client that leaves before logging in, goodbye
// or not (only a bare TCP close it has not greeted yet may leave none):
// the goodbye changes the line, not the count. connect_check: tcp
// exchanges nothing.
func TestConnectCheckGoodbyeAgainstDovecot(t *testing.T) {
	f := testfixture.Load(t)
	for _, p := range politeProbes {
		t.Run(p.port+"/greeting", func(t *testing.T) {
			offset := len(f.ReadLog("DOVECOT_A"))
			res := connectCheck(t, f, p, config.ConnectCheckGreeting)
			last := res.Transcript[len(res.Transcript)-1]
			if !strings.HasPrefix(last, "S: ") || !strings.Contains(strings.ToUpper(last), "OK") && !strings.Contains(last, "221") {
				t.Errorf("the goodbye was not answered:\n%s", strings.Join(res.Transcript, "\n"))
			}
			waitForLog(t, f, "DOVECOT_A", offset, p.logout)
		})
		t.Run(p.port+"/tcp", func(t *testing.T) {
			res := connectCheck(t, f, p, config.ConnectCheckTCP)
			for _, line := range res.Transcript {
				if strings.HasPrefix(line, "C: ") || strings.HasPrefix(line, "S: ") {
					t.Errorf("connect_check: tcp exchanged %q", line)
				}
			}
		})
	}
}
