package server

import (
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
)

func TestMailGroupFromConfig(t *testing.T) {
	cfg, err := config.Parse([]byte(`
auth:
  services:
    enabled: [backend_health_checks]
    backend_health_checks:
      connect_interval: 30s
      deep_interval: 2m
      failure_threshold: 3
      recovery_threshold: 2
      initial_state: unhealthy
      jitter: 0s
      fast_interval: 5s
      down_interval: 5m
      targets:
        - protocol: imap
          host: 127.0.0.1
          port: 993
          tls: true
          tls_skip_verify: true
          deep_check: true
          test_username: u
          test_password: p
        - protocol: pop3
          host: 127.0.0.1
          port: 110
`))
	if err != nil {
		t.Fatal(err)
	}
	g, err := MailGroup(cfg.Auth.Services.BackendHealthChecks)
	if err != nil {
		t.Fatal(err)
	}
	if g.Name != health.GroupMail || g.ConnectInterval != 30*time.Second || g.DeepInterval != 2*time.Minute ||
		g.FailureThreshold != 3 || g.RecoveryThreshold != 2 || g.InitialHealthy || g.Jitter != 0 ||
		g.FastInterval != 5*time.Second || g.DownInterval != 5*time.Minute {
		t.Errorf("group settings: %+v", g)
	}
	if len(g.Targets) != 2 || g.Targets[0].Name != "imap://127.0.0.1:993" || g.Targets[0].TLSMode != "implicit" ||
		!g.Targets[0].TLSConfig.InsecureSkipVerify || g.Targets[1].Protocol != "pop3" {
		t.Errorf("targets: %+v %+v", g.Targets[0], g.Targets[1])
	}
}

func TestMailGroupNamesTheBrokenTarget(t *testing.T) {
	hc := config.HealthChecks{Targets: []config.Target{
		{Protocol: "imap", Host: "127.0.0.1", Port: 143, TLSMode: "plain"},
		{Protocol: "imap", Host: "127.0.0.1", Port: 993, TLSMode: "implicit", TLSCAFile: t.TempDir() + "/missing.pem"},
	}}
	_, err := MailGroup(hc)
	if err == nil || !strings.HasPrefix(err.Error(), "auth.services.backend_health_checks.targets[1]: ") {
		t.Errorf("error: %v", err)
	}
}
