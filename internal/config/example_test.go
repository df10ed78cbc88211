package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/testutil"
)

// TestExampleConfigLoads keeps backline.example.yml valid. The files it names
// under /etc/backline are swapped for temporary ones.
func TestExampleConfigLoads(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "backline.example.yml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "healthcheck-password")
	writeFile(t, pwFile, "example-pw\n")
	caFile := testutil.NewPKI(t).WriteCA(t, dir)
	yml := string(data)
	for old, repl := range map[string]string{
		"/etc/backline/healthcheck-password": pwFile,
		"/etc/backline/internal-ca.pem":      caFile,
	} {
		if !strings.Contains(yml, old) {
			t.Fatalf("example no longer mentions %s; update this test", old)
		}
		yml = strings.ReplaceAll(yml, old, repl)
	}
	t.Setenv("BACKLINE_HEALTHCHECK_PASSWORD", "env-pw")
	t.Setenv("BACKLINE_REDIS_PASSWORD", "redis-pw")

	c := mustParse(t, yml)
	if w := c.Warnings(); len(w) != 0 {
		t.Errorf("example has warnings: %q", w)
	}
	h := c.Auth.Services.BackendHealthChecks
	if !c.ServiceEnabled(ServiceBackendHealthChecks) || h.DeepInterval != 2*time.Minute || h.FailureThreshold != 3 {
		t.Errorf("service settings not as written: %+v", h)
	}
	type summary struct{ name, proto, mode, mech, password string }
	want := []summary{
		{"imap-a", "imap", TLSImplicit, MechAuto, "example-pw"},
		{"pop3-a", "pop3", TLSStartTLS, MechUserPass, "env-pw"},
		{"submission-a", "smtp", TLSStartTLS, MechAuto, ""},
		{"sieve://sieve-a.mail.example.org:4190", "sieve", TLSStartTLS, MechAuto, ""},
		{"webmail", "http", TLSImplicit, MechAuto, ""},
		{"redis-a", "tcp", TLSImplicit, MechAuto, ""},
		{"imap-b-proxied", "imap", TLSPlain, MechAuto, ""},
	}
	if len(h.Targets) != len(want) {
		t.Fatalf("%d targets, want %d", len(h.Targets), len(want))
	}
	for i, tg := range h.Targets {
		got := summary{tg.Name, tg.Protocol, tg.TLSMode, tg.AuthMechanism, tg.TestPassword}
		if got != want[i] {
			t.Errorf("target %d = %+v, want %+v", i, got, want[i])
		}
	}
	if tg := h.Targets[2]; tg.HeloName != "backline-1.mail.example.org" {
		t.Errorf("submission helo_name = %q", tg.HeloName)
	}
	if tg := h.Targets[4]; len(tg.ExpectedStatus) != 2 || tg.ExpectedText != `"status":"ok"` || tg.Headers["X-Probe"] != "backline" {
		t.Errorf("webmail expectation = %v %q %v", tg.ExpectedStatus, tg.ExpectedText, tg.Headers)
	}
	if tg := h.Targets[5]; len(tg.TCPSteps) != 8 || string(tg.TCPSteps[1].Data) != "redis-pw" || !tg.TCPSteps[1].Secret || tg.TCPSteps[5].Regexp == nil {
		t.Errorf("redis steps = %+v", tg.TCPSteps)
	}
	if tg := h.Targets[6]; !tg.HAProxyV2 || tg.HAProxyV2Command != HAProxyCommandLocal || tg.ConnectTimeout != time.Second || tg.DeepTimeout != 5*time.Second {
		t.Errorf("proxied target = %+v", tg)
	}
}
