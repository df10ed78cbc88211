package server

import (
	"crypto/tls"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/probe"
	"github.com/backline/backline/internal/testutil"
)

// /api/v1/backends and the status page name a target's client certificate
// (subject and expiry); nothing of its key appears in either.
func TestBackendsShowClientCertificate(t *testing.T) {
	leaf := testutil.NewPKI(t).Issue(t, "backline probe", 3, time.Date(2027, 3, 4, 5, 6, 7, 0, time.UTC), true)
	tg := &probe.Target{Name: "imap-mtls", Protocol: "imap", Host: "127.0.0.1", Port: 993, TLSMode: probe.TLSImplicit,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{leaf.Cert}}}
	snap := &health.Snapshot{Taken: t0, Backends: []health.Backend{{ID: tg.Name, Group: health.GroupMail,
		Target: health.InfoOf(tg), Weight: 1, Healthy: true, Since: t0,
		Admin: health.Admin{State: health.AdminReady, Weight: 1, Health: health.HealthAuto, Source: health.SourceConfig}}}}
	h := New(Options{Snapshot: fixedSource{snap}}).Handler()

	got := do(t, h, "GET", "/api/v1/backends", nil)
	var doc struct {
		Backends []struct {
			ClientCert map[string]string `json:"client_cert"`
		} `json:"backends"`
	}
	if err := json.Unmarshal([]byte(got.body), &doc); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"subject": "CN=backline probe", "not_after": "2027-03-04T05:06:07Z"}
	if len(doc.Backends) != 1 || len(doc.Backends[0].ClientCert) != 2 ||
		doc.Backends[0].ClientCert["subject"] != want["subject"] || doc.Backends[0].ClientCert["not_after"] != want["not_after"] {
		t.Errorf("client_cert = %+v, want %v\n%s", doc.Backends, want, got.body)
	}

	page := do(t, h, "GET", "/", nil)
	if !strings.Contains(page.body, "client-cert") {
		t.Errorf("status page does not mention the client certificate")
	}
	for _, body := range []string{got.body, page.body} {
		for _, line := range strings.Split(string(leaf.KeyPEM), "\n") {
			if len(line) >= 16 && !strings.HasPrefix(line, "-----") && strings.Contains(body, line) {
				t.Errorf("key material in a response")
			}
		}
		if strings.Contains(body, "PRIVATE") {
			t.Errorf("key in a response")
		}
	}
}
