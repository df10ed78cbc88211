package gateway

import (
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backline/backline/internal/testutil"
)

// proxyParseError is the error x/net's httpproxy.parseProxy builds (Go
// 1.26's net/http drops it and goes direct, but proxyEnvError is written
// against this wording): the original value quoted, with url.Parse's error
// of it, when neither it nor "http://"+it parses.
func realProxyError(t *testing.T, raw string) error {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		if _, err := url.Parse("http://" + raw); err == nil {
			return nil
		}
	}
	if err != nil {
		return fmt.Errorf("invalid proxy address %q: %v", raw, err)
	}
	return nil
}

// HTTP_PROXY is often written without its scheme; a value neither form of
// which parses is quoted whole, so its password must be found without
// "://" too.
func TestReviewProxyEnvErrorHidesAPasswordWithoutScheme(t *testing.T) {
	for _, raw := range []string{
		"http://user:pa/ss#SECRET@proxy:3128",
		"http://u:SECRET@proxy:x",
		"http://u:pa ssSECRET@proxy:3128",
		"http://u:pa\"SECRET\\@proxy:3128",
		"http://u:pa\xffSECRET\xfe@proxy:3128",
		"http://u:pa\x7fSECRET@proxy:3128",
		"http://u:pa\tSECRET@proxy:3128",
		"1user:SEC RET@proxy:3128",
		"007:SECRET x@proxy:3128",
		"1user:pa%zzSECRET@proxy:3128",
		"http://u:pa%zzSECRET@proxy:3128",
		"http://u:SECRET@[::1",

		"http://u:pa@ss:SECRET@proxy:x",
		"http://u:\"SECRET\"@proxy:x",
		"\"http://u:SECRET@proxy:x\"",
		"http://u:SECRET\\x22@proxy:x",
		" http://u:SECRET@proxy:3128",
		"http://u:SE\nCRET@proxy:3128",
		"http://u:SE\x00CRET@proxy:3128",
		"http://u:SE CRET@proxy:3128/path",
		"socks5://u:SE CRET@proxy:1080",
		"://u:SECRET@proxy:x",
		"http:/u:SECRET x@proxy",
		"user:SECRET@proxy:x",
		"u:SECRET@[::1",
	} {
		err := realProxyError(t, raw)
		if err == nil {
			continue
		}
		got := proxyEnvError(err)
		for _, part := range []string{"SECRET", "SE", "CRET", "RET"} {
			if strings.Contains(got, part) {
				t.Errorf("%q: %q in %q", raw, part, got)
			}
		}
	}
}

// The gauge reads the leaf of a chain file (the CA after it expires within
// a day), keeps its value when the files are gone at scrape time (it
// reads what the active gateway loaded), and an inline backend keeps its
// label across a reload that adds an endpoint before it.
func TestReviewClientCertificateGaugeChainMissingFileStableLabel(t *testing.T) {
	ca := testutil.NewPKI(t)
	notAfter := time.Now().Add(300 * 24 * time.Hour).Truncate(time.Second)
	leaf := ca.Issue(t, "gw", 2, notAfter, true)
	dir := t.TempDir()
	cert := filepath.Join(dir, "chain.pem")
	key := filepath.Join(dir, "key.pem")
	if err := os.WriteFile(cert, append(append([]byte{}, leaf.CertPEM...), ca.CAPEM...), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, leaf.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	build := func(yml string) *Gateway {
		t.Helper()
		g, err := New(Options{Config: parseConfig(t, yml), Logger: slog.New(slog.DiscardHandler), Metrics: m})
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	yml := clientCertYAML(cert, key, cert, key)
	first := build(yml)
	first.Activate()
	want := map[string]float64{"mtls": float64(notAfter.Unix()), "anonymous_inline": float64(notAfter.Unix())}
	if got := clientCertExpiries(t, reg); !maps.Equal(got, want) {
		t.Fatalf("chain: %v, want %v (the CA expires %v)", got, want, ca.CA.NotAfter)
	}
	second := build(strings.Replace(yml, "    - path: /inline/**", "    - path: /added\n      proxy:\n        url: http://127.0.0.1:9/x\n    - path: /inline/**", 1))
	second.Activate()
	m.ForgetUnused(first)
	first.Close()
	defer second.Close()
	if err := os.Remove(cert); err != nil {
		t.Fatal(err)
	}
	if got := clientCertExpiries(t, reg); !maps.Equal(got, want) {
		t.Fatalf("after reload, files gone: %v, want %v", got, want)
	}
}
