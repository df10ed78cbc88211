package server

import (
	"encoding/json"
	"testing"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
)

// /api/v1/backends names each target's connect_check in effect, from the
// configuration: the service's default, a target's own value, and tcp for
// http, which has no greeting.
func TestBackendsShowConnectCheck(t *testing.T) {
	cfg, err := config.Parse([]byte(`
auth:
  services:
    enabled: [backend_health_checks]
    backend_health_checks:
      targets:
        - name: imap-default
          protocol: imap
          host: 127.0.0.1
          port: 143
        - name: mx-tarpit
          protocol: smtp
          host: 127.0.0.1
          port: 25
          connect_check: tcp
        - name: web
          protocol: http
          host: 127.0.0.1
          port: 80
`))
	if err != nil {
		t.Fatal(err)
	}
	g, err := MailGroup(cfg.Auth.Services.BackendHealthChecks)
	if err != nil {
		t.Fatal(err)
	}
	snap := &health.Snapshot{Taken: t0}
	for _, tg := range g.Targets {
		snap.Backends = append(snap.Backends, health.BackendFor(health.GroupMail, tg, true))
	}
	h := New(Options{Snapshot: fixedSource{snap}}).Handler()

	got := do(t, h, "GET", "/api/v1/backends", nil)
	var doc struct {
		Backends []struct {
			ID           string `json:"id"`
			TLSMode      string `json:"tls_mode"`
			ConnectCheck string `json:"connect_check"`
		} `json:"backends"`
	}
	if err := json.Unmarshal([]byte(got.body), &doc); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"imap-default": "greeting", "mx-tarpit": "tcp", "web": "tcp"}
	if len(doc.Backends) != len(want) {
		t.Fatalf("backends: %s", got.body)
	}
	for _, b := range doc.Backends {
		if b.ConnectCheck != want[b.ID] {
			t.Errorf("%s: connect_check = %q, want %q", b.ID, b.ConnectCheck, want[b.ID])
		}
	}
}
