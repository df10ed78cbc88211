package gateway

import (
	"net/http"
	"net/netip"
	"testing"

	"github.com/backline/backline/internal/config"
)

// One rule judges a peer for X-Forwarded-Proto/-Host and for the
// X-Forwarded-For walk. A link-local peer with its zone
// ([fe80::1%eth0]:port, as net/http gives it) used to be trusted for
// client_ip_hash (its zone dropped) but not for X-Forwarded-Proto
// (Prefix.Contains never matches a zoned address), so one request was
// judged two ways.
func TestTrustOneRuleForEveryHeader(t *testing.T) {
	cfg := config.Gateway{TrustedProxies: []string{"private_ranges", "2001:db8::7"}}
	trusted := trustedProxies(cfg.TrustedProxyPrefixes())
	for peer, want := range map[string]bool{
		"[fe80::1%eth0]:4000":        true,
		"[fe80::1%25eth0]:4000":      true,
		"[fe80::1]:4000":             true,
		"169.254.10.1:4000":          true,
		"[::ffff:169.254.10.1]:4000": true,
		"[::ffff:10.0.0.1]:4000":     true,
		"[2001:db8::7%lo]:4000":      true,
		"[2001:db8::8%lo]:4000":      false,
		"[fe81::1%eth0]:4000":        true, // fe80::/10 reaches febf::
		"[fec0::1%eth0]:4000":        false,
		"192.0.2.1:4000":             false,
		"[ff02::1%eth0]:4000":        false,
	} {
		t.Run(peer, func(t *testing.T) {
			r := &http.Request{RemoteAddr: peer, Host: "gw.example", Header: http.Header{
				"X-Forwarded-For":   {"198.51.100.1"},
				"X-Forwarded-Proto": {"https"},
			}}
			if got := trusted.contains(peer); got != want {
				t.Errorf("contains = %v, want %v", got, want)
			}
			client, _ := clientAddr(r, trusted)
			if got := client == netip.MustParseAddr("198.51.100.1"); got != want {
				t.Errorf("client_ip_hash client %v: trusted %v, want %v", client, got, want)
			}
			proto, _ := forwardedOf(r, trusted)
			if got := proto[0] == "https"; got != want {
				t.Errorf("request-block X-Forwarded-Proto %q: trusted %v, want %v", proto, got, want)
			}
			h := r.Header.Clone()
			setForwardedProtoHost(h, r, nil, trusted)
			if got := h.Get("X-Forwarded-Proto") == "https"; got != want {
				t.Errorf("proxied X-Forwarded-Proto %q: trusted %v, want %v", h["X-Forwarded-Proto"], got, want)
			}
		})
	}
}
