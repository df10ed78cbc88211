package gateway

import (
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/backline/backline/internal/testutil"
)

const clientCertExpiry = "backline_gateway_client_certificate_expiry_timestamp_seconds"

// clientCertExpiries reads the client certificate gauge by backend.
func clientCertExpiries(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != clientCertExpiry {
			continue
		}
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != 1 || m.GetLabel()[0].GetName() != "backend" {
				t.Fatalf("labels %v", m.GetLabel())
			}
			out[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
		}
	}
	return out
}

// clientCertYAML is a gateway with backend mtls (client certificate
// files cert and key), a refinement of it, plain without a certificate,
// and, when inlineCert is set, an inline backend of /inline/** with one.
func clientCertYAML(cert, key, inlineCert, inlineKey string) string {
	yml := `definitions:
  backends:
    mtls:
      origin: https://127.0.0.1:9
      tls:
        client_certificate_file: ` + cert + `
        client_private_key_file: ` + key + `
    plain:
      origin: https://127.0.0.1:9
gateway:
  address: 127.0.0.1:18999
  endpoints:
    - path: /a
      proxy:
        backend: mtls
    - path: /r
      proxy:
        backend:
          label: mtls
          timeout: 5s
    - path: /p
      proxy:
        backend: plain
`
	if inlineCert != "" {
		yml += `    - path: /inline/**
      proxy:
        backend:
          origin: https://127.0.0.1:9
          tls:
            client_certificate_file: ` + inlineCert + `
            client_private_key_file: ` + inlineKey + "\n"
	}
	return yml
}

// The gauge shows the client certificate of each backend of the active
// gateway that has one: a label (its refinements share it), an inline
// backend under its anonymous name; none for a backend without. A reload
// with a renewed certificate moves it, a removed backend's series goes
// with the gateway that had it; nothing shows before a gateway is active.
func TestClientCertificateExpiryGauge(t *testing.T) {
	ca := testutil.NewPKI(t)
	soon := time.Now().Add(72 * time.Hour).Truncate(time.Second)
	later := time.Now().Add(300 * 24 * time.Hour).Truncate(time.Second)
	inline := time.Now().Add(40 * 24 * time.Hour).Truncate(time.Second)
	cert1, key1 := ca.Issue(t, "gw", 2, soon, true).Write(t, t.TempDir())
	cert2, key2 := ca.Issue(t, "gw", 3, later, true).Write(t, t.TempDir())
	inlineLeaf := ca.Issue(t, "inline", 4, inline, true)
	cert3, key3 := inlineLeaf.Write(t, t.TempDir())

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
	first := build(clientCertYAML(cert1, key1, cert3, key3))
	if got := clientCertExpiries(t, reg); len(got) != 0 {
		t.Fatalf("before activation: %v", got)
	}
	first.Activate()
	want := map[string]float64{"mtls": float64(soon.Unix()), "anonymous_inline": float64(inline.Unix())}
	if got := clientCertExpiries(t, reg); !maps.Equal(got, want) {
		t.Fatalf("first gateway: %v, want %v", got, want)
	}

	// The exposition holds the backend and a date, nothing of the key.
	var text strings.Builder
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == clientCertExpiry {
			if _, err := expfmt.MetricFamilyToText(&text, mf); err != nil {
				t.Fatal(err)
			}
		}
	}
	keyBody := string(inlineLeaf.KeyPEM[len("-----BEGIN PRIVATE KEY-----\n"):][:32])
	if strings.Contains(text.String(), "PRIVATE") || strings.Contains(text.String(), keyBody) || strings.Contains(text.String(), key3) {
		t.Fatalf("key material or path in %s", text.String())
	}

	// A reload: renewed certificate, the inline backend removed.
	second := build(clientCertYAML(cert2, key2, "", ""))
	// Built but not active (a reload that fails later): no change.
	if got := clientCertExpiries(t, reg); !maps.Equal(got, want) {
		t.Fatalf("built, not active: %v", got)
	}
	second.Activate()
	m.ForgetUnused(first)
	first.Close()
	defer second.Close()
	want = map[string]float64{"mtls": float64(later.Unix())}
	if got := clientCertExpiries(t, reg); !maps.Equal(got, want) {
		t.Fatalf("after reload: %v, want %v", got, want)
	}
}

// A gateway without any client certificate exports no series; private
// metrics (no registry) do not panic.
func TestClientCertificateExpiryGaugeAbsent(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(Options{Config: parseConfig(t, `definitions:
  backends:
    plain:
      origin: http://127.0.0.1:9
gateway:
  address: 127.0.0.1:18999
  endpoints:
    - path: /p
      proxy:
        url: http://127.0.0.1:9/x
`), Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	g.Activate()
	if got := clientCertExpiries(t, reg); len(got) != 0 {
		t.Fatalf("series %v", slices.Collect(maps.Keys(got)))
	}
	private, err := NewMetrics(nil)
	if err != nil || private.m.clientCerts == nil {
		t.Fatalf("private metrics: %v", err)
	}
}
