package probe

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/testutil"
)

func TestNewTarget(t *testing.T) {
	ct := &config.Target{
		Name: "imap-a", Protocol: "imap", Host: "imap.example.org.", Port: 993,
		TestUsername: "u", TestPassword: "p", AuthMechanism: "auto", DeepCheck: true,
		TLSMode: "implicit", HAProxyV2: true, HAProxyV2Command: "proxy",
		ConnectTimeout: time.Second, TLSTimeout: 2 * time.Second, DeepTimeout: 3 * time.Second,
		RequestURI: "/x", AllowPlaintextAuth: true,
	}
	tg, err := NewTarget(ct)
	if err != nil {
		t.Fatal(err)
	}
	want := Target{
		Name: "imap-a", Protocol: "imap", Host: "imap.example.org.", Port: 993, TLSMode: TLSImplicit,
		HAProxyV2: true, HAProxyV2Proxy: true, ConnectTimeout: time.Second, TLSTimeout: 2 * time.Second,
		DeepTimeout: 3 * time.Second, DeepCheck: true, Username: "u", Password: "p", Mechanism: "auto",
		RequestURI: "/x", AllowPlaintextAuth: true,
	}
	got := *tg
	got.TLSConfig = nil
	if got.Name != want.Name || got.Protocol != want.Protocol || got.Host != want.Host || got.Port != want.Port ||
		got.TLSMode != want.TLSMode || got.HAProxyV2 != want.HAProxyV2 || got.HAProxyV2Proxy != want.HAProxyV2Proxy ||
		got.ConnectTimeout != want.ConnectTimeout || got.TLSTimeout != want.TLSTimeout || got.DeepTimeout != want.DeepTimeout ||
		got.DeepCheck != want.DeepCheck || got.Username != want.Username || got.Password != want.Password ||
		got.Mechanism != want.Mechanism || got.RequestURI != want.RequestURI || got.AllowPlaintextAuth != want.AllowPlaintextAuth {
		t.Errorf("target = %+v\nwant %+v", got, want)
	}
	c := tg.TLSConfig
	if c.MinVersion != tls.VersionTLS12 || c.ServerName != "imap.example.org" || c.InsecureSkipVerify || c.RootCAs != nil {
		t.Errorf("TLS config: min %x name %q skip %v roots %v", c.MinVersion, c.ServerName, c.InsecureSkipVerify, c.RootCAs)
	}
}

func TestNewTargetTLSSettings(t *testing.T) {
	dir := t.TempDir()
	caFile := testutil.NewPKI(t).WriteCA(t, dir)
	tg, err := NewTarget(&config.Target{Protocol: "sieve", Host: "10.0.0.1", Port: 4190, TLSMode: "starttls",
		TLSCAFile: caFile, TLSServerName: "sieve.example.org", TLSSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	c := tg.TLSConfig
	if c.ServerName != "sieve.example.org" || !c.InsecureSkipVerify || c.RootCAs == nil || tg.HAProxyV2Proxy {
		t.Errorf("TLS config: name %q skip %v roots %v", c.ServerName, c.InsecureSkipVerify, c.RootCAs)
	}

	bad := filepath.Join(dir, "bad.pem")
	_ = os.WriteFile(bad, []byte("not a certificate"), 0o600)
	cases := []struct {
		target   config.Target
		contains string
	}{
		{config.Target{Protocol: "imap", Host: "h", Port: 993, TLSMode: "implicit", TLSCAFile: filepath.Join(dir, "missing.pem")}, "tls_ca_file"},
		{config.Target{Protocol: "imap", Host: "h", Port: 993, TLSMode: "implicit", TLSCAFile: bad}, "no PEM certificate"},
		{config.Target{Protocol: "http", Host: "h", Port: 80, TLSMode: "starttls"}, "http has no STARTTLS"},
		{config.Target{Protocol: "nntp", Host: "h", Port: 119}, "unknown protocol"},
		{config.Target{Protocol: "imap", Host: "h", Port: 0}, "out of range"},
		{config.Target{Protocol: "imap", Host: "h", Port: 143, TLSMode: "sometimes"}, "unknown tls_mode"},
	}
	for _, tc := range cases {
		if _, err := NewTarget(&tc.target); err == nil || !strings.Contains(err.Error(), tc.contains) {
			t.Errorf("NewTarget(%+v) error = %v, want %q", tc.target, err, tc.contains)
		}
	}
}

// ConnectCheck names connect_check in effect; http has no greeting, so it
// is tcp whatever the flag says.
func TestTargetConnectCheck(t *testing.T) {
	for _, tc := range []struct {
		protocol string
		greeting bool
		want     string
	}{
		{"imap", true, "greeting"}, {"smtp", false, "tcp"}, {"http", true, "tcp"}, {"sieve", true, "greeting"},
	} {
		tg := &Target{Protocol: tc.protocol, ConnectGreeting: tc.greeting}
		if got := tg.ConnectCheck(); got != tc.want {
			t.Errorf("%s greeting=%v: %q, want %q", tc.protocol, tc.greeting, got, tc.want)
		}
	}
}
