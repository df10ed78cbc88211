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

// A deep check whose login fails still says goodbye, so Dovecot logs a
// client that logged out after the failed attempt rather than one whose
// connection closed; the check's verdict stays the refused login.
func TestDeepCheckGoodbyeAfterFailedLoginAgainstDovecot(t *testing.T) {
	f := testfixture.Load(t)
	for _, tc := range []struct{ protocol, port, logout string }{
		{"pop3", "DOVECOT_A_POP3S", "pop3-login: Info: Disconnected: Aborted login by logging out (auth failed, 1 attempts"},
		{"smtp", "DOVECOT_A_SUBMISSIONS", "submission-login: Info: Disconnected: Aborted login by logging out (auth failed, 1 attempts"},
	} {
		t.Run(tc.port, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir+"/pw", "not-the-password\n")
			yml := "auth:\n  services:\n    enabled: [backend_health_checks]\n    backend_health_checks:\n      targets:\n" +
				"        - protocol: " + tc.protocol + "\n          host: " + f.Host + "\n          port: " + f.Get(tc.port) +
				"\n          tls_mode: implicit\n          tls_ca_file: " + f.CAFile + "\n          tls_server_name: " + f.ServerName +
				"\n          deep_check: true\n          deep_timeout: 10s\n          test_username: healthcheck-user\n          test_password_file: " + dir + "/pw\n"
			c, err := config.Parse([]byte(yml))
			if err != nil {
				t.Fatalf("config: %v", err)
			}
			target, err := probe.NewTarget(&c.Auth.Services.BackendHealthChecks.Targets[0])
			if err != nil {
				t.Fatalf("NewTarget: %v", err)
			}
			offset := len(f.ReadLog("DOVECOT_A"))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			res := (&probe.Prober{}).Check(ctx, target, probe.PhaseDeep, probe.Options{Transcript: true})
			if res.OK || res.Reason != probe.ReasonAuth {
				t.Fatalf("want an auth failure, got ok=%v %s: %v\n%s", res.OK, res.Reason, res.Err, strings.Join(res.Transcript, "\n"))
			}
			if last := res.Transcript[len(res.Transcript)-1]; last != "C: QUIT" {
				t.Errorf("transcript ends %q", last)
			}
			waitForLog(t, f, "DOVECOT_A", offset, tc.logout)
		})
	}
}
