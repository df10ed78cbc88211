package gateway

import (
	"strings"
	"testing"
)

// A __Secure- or __Host- cookie name gets Secure whatever the scheme:
// browsers drop such a cookie without it. __Host- also needs Path=/ and
// no Domain, which every line has.
func TestHashCookieLineSecurePrefix(t *testing.T) {
	for _, tc := range []struct {
		name   string
		secure bool
	}{
		{"__Host-lb", true}, {"__Secure-lb", true}, {"__host-lb", true}, {"__SECURE-lb", true},
		{"__Host", false}, {"_Host-lb", false}, {"lb__Host-", false}, {"__Securelb", false}, {"lb", false},
	} {
		got := hashCookieLine(tc.name, "t", false)
		if strings.HasSuffix(got, "; Secure") != tc.secure {
			t.Errorf("%s over http: %q", tc.name, got)
		}
		if !strings.Contains(got, "; Path=/;") || strings.Contains(strings.ToLower(got), "domain") {
			t.Errorf("%s: %q", tc.name, got)
		}
		if got := hashCookieLine(tc.name, "t", true); !strings.HasSuffix(got, "Lax; Secure") {
			t.Errorf("%s over https: Secure once: %q", tc.name, got)
		}
	}
}

func TestHashCookieSecurePrefixOverHTTP(t *testing.T) {
	tr := &transcript{}
	yml := originsYAML("      load_balancing: cookie_hash\n      hash_key: __Host-lb\n", threeOrigins(t, tr)...)
	h := newHarness(t, yml)
	_, resp := originOf(t, h, tr, "/s", nil)
	if got := resp.Header.Get("Set-Cookie"); !strings.HasPrefix(got, "__Host-lb=") || !strings.HasSuffix(got, "; Path=/; HttpOnly; SameSite=Lax; Secure") {
		t.Errorf("Set-Cookie %q", got)
	}
}
