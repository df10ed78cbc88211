package main

import (
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/backline/backline/internal/testutil"
)

// A reload reads tls_cert_file and tls_key_file again: a renewed
// certificate at the same paths is what the checks present afterwards,
// with no restart.
func TestReloadPicksUpRenewedClientCertificate(t *testing.T) {
	pki := testutil.NewPKI(t)
	dir := t.TempDir()
	cert, key := pki.Issue(t, "first", 3, time.Now().Add(90*24*time.Hour), true).Write(t, dir)
	services := "    enabled: [backend_health_checks]\n    backend_health_checks:\n" +
		"      connect_interval: 1h\n      connect_timeout: 1s\n      targets:\n" +
		"        - {name: mtls1, protocol: imap, host: 127.0.0.1, port: 1, tls: true, proxy_port: 143, tls_cert_file: " + cert + ", tls_key_file: " + key + "}\n"
	v := fileVersion{filterPort: 1143, origin: "a", services: services}
	f := startReloadFixture(t, v)
	if got := clientCertSubject(f); got != "CN=first" {
		t.Fatalf("before the reload: client certificate %q", got)
	}

	renewed := pki.Issue(t, "second", 4, time.Now().Add(180*24*time.Hour), true)
	if err := os.WriteFile(cert, renewed.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, renewed.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if status, a := f.reload(); status != 200 {
		t.Fatalf("reload: %d %+v", status, a)
	}
	if got := clientCertSubject(f); got != "CN=second" {
		t.Errorf("after the reload: client certificate %q, want CN=second", got)
	}

	// A broken key refuses the reload; the running certificate stays.
	if err := os.WriteFile(key, []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if status, _ := f.reload(); status == 200 {
		t.Error("reload with a broken key file succeeded")
	}
	if got := clientCertSubject(f); got != "CN=second" {
		t.Errorf("after the refused reload: client certificate %q, want CN=second", got)
	}
}

func clientCertSubject(f *reloadFixture) string {
	f.t.Helper()
	_, body := httpGet(f.t, "http://"+f.api+"/api/v1/backends")
	var a struct {
		Backends []struct {
			ID         string `json:"id"`
			ClientCert struct {
				Subject string `json:"subject"`
			} `json:"client_cert"`
		} `json:"backends"`
	}
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		f.t.Fatalf("%v: %s", err, body)
	}
	for _, b := range a.Backends {
		if b.ID == "mtls1" {
			return b.ClientCert.Subject
		}
	}
	f.t.Fatalf("no backend mtls1: %s", body)
	return ""
}
