package gateway

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

func TestValidForwardedHost(t *testing.T) {
	long := strings.Repeat("a", 63) + "."
	name255 := strings.Repeat(long, 3) + strings.Repeat("b", 63) // 255 bytes
	for s, want := range map[string]bool{
		"shop.example":             true,
		"shop.example:8443":        true,
		"SHOP.Example":             true,
		"192.0.2.1":                true,
		"192.0.2.1:80":             true,
		"[2001:db8::1]":            true,
		"[2001:db8::1]:443":        true,
		"[::ffff:192.0.2.1]":       true,
		"[::1]:0":                  true,
		"under_score.example":      true,
		"xn--bcher-kva.example":    true,
		"a%2Db.example":            true,
		"shop.example:65535":       true,
		name255:                    true,
		name255 + "b":              false, // 256 bytes
		name255[:250] + ":8443":    true,
		name255[:251] + ":8443":    false,
		"":                         false,
		" ":                        false,
		"shop example":             false,
		"shop.example ":            false,
		"shop\texample":            false,
		"shop.example\r\nX-A: b":   false,
		"shop.example\x00":         false,
		"shop.example\x7f":         false,
		"user@shop.example":        false,
		"shop.example/path":        false,
		"shop.example\\path":       false,
		"http://shop.example":      false,
		"shop.example:":            false,
		"shop.example:http":        false,
		"shop.example:65536":       false,
		"shop.example:123456":      false,
		"shop.example:-1":          false,
		"shop.example:80:80":       false,
		":8080":                    false,
		"2001:db8::1":              false, // IPv6 without brackets
		"[2001:db8::1":             false,
		"2001:db8::1]":             false,
		"[2001:db8::1]x":           false,
		"[2001:db8::1]:":           false,
		"[2001:db8::1]:80x":        false,
		"[fe80::1%eth0]":           false, // a zone names an interface of the proxy
		"[fe80::1%25eth0]":         false,
		"[192.0.2.1]":              false,
		"[v1.fe]":                  false,
		"[]":                       false,
		"[shop.example]":           false,
		"shop.example%":            false,
		"shop.example%2":           false,
		"shop.example%zz":          false,
		"<script>":                 false,
		"shop.example\"":           false,
		"bücher.example":           false, // raw UTF-8: a client sends the A-label
		"shop.example?x=1":         false,
		"shop.example#frag":        false,
		"[2001:db8::1]:443/x":      false,
		"shop.example:8443 , evil": false,
	} {
		if got := validForwardedHost(s); got != want {
			t.Errorf("validForwardedHost(%q) = %v, want %v", s, got, want)
		}
	}
}

// A trusted proxy's bad host claim is ignored wherever the read lands
// (its single value, the element at the client's place in a list, lines
// counting as one list): the origin gets the Host the gateway got, in
// the proxied request and a request block's alike.
func TestForwardedHostBadClaimFallsBackToHost(t *testing.T) {
	trusted := trustedProxies{netip.MustParsePrefix("10.0.0.0/8")}
	for _, tc := range []struct {
		name string
		xff  string
		host []string
		want string
	}{
		{"good single value", "", []string{"shop.example"}, "shop.example"},
		{"good single value, spaces around", "", []string{" shop.example:8443\t"}, "shop.example:8443"},
		{"good IPv6 with port", "", []string{"[2001:db8::1]:8443"}, "[2001:db8::1]:8443"},
		{"oversized", "", []string{strings.Repeat("a", 1<<16) + ".example"}, "gw.example"},
		{"just over the bound", "", []string{strings.Repeat("a", maxForwardedHostLen+1)}, "gw.example"},
		{"control characters", "", []string{"shop.example\x01"}, "gw.example"},
		{"space inside", "", []string{"shop .example"}, "gw.example"},
		{"userinfo", "", []string{"user@shop.example"}, "gw.example"},
		{"path", "", []string{"shop.example/reset"}, "gw.example"},
		{"empty", "", []string{""}, "gw.example"},
		{"only spaces", "", []string{" \t "}, "gw.example"},
		{"bare IPv6", "", []string{"2001:db8::1"}, "gw.example"},
		{"IPv6 with a zone", "", []string{"[fe80::1%eth0]:80"}, "gw.example"},
		{"bad port", "", []string{"shop.example:99999"}, "gw.example"},
		// Duplicated fields: the lines are one list, read at one place.
		{"duplicated lines, bad at the read", "203.0.113.9", []string{"shop.example", "evil example"}, "gw.example"},
		{"duplicated lines, good at the read", "203.0.113.9", []string{"evil example", "shop.example"}, "shop.example"},
		{"duplicated lines, no X-Forwarded-For", "", []string{"shop.example", "a@b"}, "gw.example"},
		// A bad element left of the read is not read: it cannot spoil
		// the good one, nor a bad one at the read fall back to it.
		{"list, bad element on the left", "203.0.113.9, 10.0.0.2", []string{"a/b, shop.example, inner.example"}, "shop.example"},
		{"list, bad element at the read", "203.0.113.9, 10.0.0.2", []string{"shop.example, a b, inner.example"}, "gw.example"},
		{"list, empty element at the read", "203.0.113.9", []string{"shop.example, "}, "gw.example"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: "10.0.0.1:4000", Host: "gw.example", Header: http.Header{"X-Forwarded-Host": tc.host}}
			if tc.xff != "" {
				r.Header.Set("X-Forwarded-For", tc.xff)
			}
			h := r.Header.Clone()
			setForwardedProtoHost(h, r, nil, trusted)
			if got := h["X-Forwarded-Host"]; len(got) != 1 || got[0] != tc.want {
				t.Errorf("proxied X-Forwarded-Host %q, want %q", got, tc.want)
			}
			if _, got := forwardedOf(r, trusted); got != tc.want {
				t.Errorf("request-block X-Forwarded-Host %q, want %q", got, tc.want)
			}
		})
	}
	// HTTP/1.0 without Host: a bad claim leaves no X-Forwarded-Host.
	r := &http.Request{RemoteAddr: "10.0.0.1:4000", Header: http.Header{"X-Forwarded-Host": {"a b"}}}
	h := r.Header.Clone()
	setForwardedProtoHost(h, r, nil, trusted)
	if got, ok := h["X-Forwarded-Host"]; ok {
		t.Errorf("X-Forwarded-Host %q without a Host to fall back to", got)
	}
}

// Reading and checking the host costs no allocation.
func TestForwardedHostAllocations(t *testing.T) {
	trusted := trustedProxies{netip.MustParsePrefix("10.0.0.0/8")}
	for _, values := range [][]string{{"shop.example:8443"}, {"evil.example, [2001:db8::1]:443"}, {"a b"}} {
		r := &http.Request{RemoteAddr: "10.0.0.1:4000", Host: "gw.example", Header: http.Header{
			"X-Forwarded-For": {"203.0.113.9"}, "X-Forwarded-Host": values}}
		if n := testing.AllocsPerRun(100, func() {
			v := newForwardedView(r, trusted)
			v.host(values)
		}); n != 0 {
			t.Errorf("%q: %v allocations", values, n)
		}
	}
}

func FuzzForwardedHost(f *testing.F) {
	f.Add("203.0.113.9", "shop.example", "")
	f.Add("203.0.113.9, 10.0.0.2", "evil.example, shop.example:8443", "inner.example")
	f.Add("", "[2001:db8::1]:443", "")
	f.Add("", "a@b/c", "[fe80::1%eth0]")
	f.Add("203.0.113.9", " ,,", "shop.example:")
	trusted := trustedProxies{netip.MustParsePrefix("10.0.0.0/8")}
	f.Fuzz(func(t *testing.T, xff, first, second string) {
		r := &http.Request{RemoteAddr: "10.0.0.1:4000", Host: "gw.example", Header: http.Header{"X-Forwarded-Host": {first}}}
		if second != "" {
			r.Header["X-Forwarded-Host"] = []string{first, second}
		}
		if xff != "" {
			r.Header["X-Forwarded-For"] = []string{xff}
		}
		h := r.Header.Clone()
		setForwardedProtoHost(h, r, nil, trusted)
		got := h["X-Forwarded-Host"]
		if len(got) != 1 {
			t.Fatalf("X-Forwarded-Host %q: %d values", r.Header["X-Forwarded-Host"], len(got))
		}
		if v := got[0]; v != "gw.example" && (!validForwardedHost(v) || len(v) > maxForwardedHostLen ||
			strings.ContainsAny(v, " \t\r\n\x00,@/\\\"<>")) {
			t.Fatalf("X-Forwarded-Host %q passed on as %q", r.Header["X-Forwarded-Host"], v)
		}
		if _, block := forwardedOf(r, trusted); block != got[0] {
			t.Fatalf("X-Forwarded-Host %q: proxied %q, request block %q", r.Header["X-Forwarded-Host"], got[0], block)
		}
	})
}

// The forwarded fields behind a chain of trusted proxies that append:
// the peer parsed and X-Forwarded-For walked once for scheme and host.
func BenchmarkForwardedFromTrustedList(b *testing.B) {
	trusted := trustedProxies{netip.MustParsePrefix("10.0.0.0/8")}
	r := &http.Request{RemoteAddr: "10.0.0.1:4000", Host: "gw.example", Header: http.Header{
		"X-Forwarded-For":   {"203.0.113.9, 10.0.0.3, 10.0.0.2"},
		"X-Forwarded-Proto": {"https, https, http"},
		"X-Forwarded-Host":  {"shop.example, inner.example, inner.example"},
	}}
	h := r.Header.Clone()
	spare := make([]string, 1)
	b.ReportAllocs()
	for b.Loop() {
		h["X-Forwarded-Host"] = r.Header["X-Forwarded-Host"] // the read sets one value
		setForwardedProtoHost(h, r, spare, trusted)
	}
}
