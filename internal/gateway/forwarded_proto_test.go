package gateway

import (
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func protoRequest(xff string, proto ...string) *http.Request {
	r := requestFrom("10.0.0.1:4000")
	if xff != "" {
		r.Header.Set("X-Forwarded-For", xff)
	}
	for _, v := range proto {
		r.Header.Add("X-Forwarded-Proto", v)
	}
	return r
}

func TestTrustedProto(t *testing.T) {
	trusted := trustedProxies{netip.MustParsePrefix("10.0.0.0/8")}
	hundred := strings.Repeat("https,", 99) + "http"
	for _, tt := range []struct {
		name  string
		xff   string
		proto []string
		want  string // "" : nil, the gateway's own view
	}{
		{"one value", "", []string{"https"}, "https"},
		{"mixed case", "", []string{"HtTpS"}, "https"},
		{"spaces and tabs", "", []string{" \thttps\t "}, "https"},
		{"missing", "", nil, ""},
		{"empty", "", []string{""}, ""},
		{"only empty elements", "", []string{" , ,,"}, ""},
		{"not a scheme", "", []string{"ht tps"}, ""},
		{"digit first", "", []string{"1http"}, ""},
		{"too long", "", []string{strings.Repeat("h", 17)}, ""},
		{"other scheme", "", []string{"WSS"}, "wss"},
		// The client's entry and one trusted hop: one element each, the
		// first is the client's hop.
		{"first proxy saw https", "203.0.113.9, 10.0.0.2", []string{"https, http"}, "https"},
		{"first proxy saw http", "203.0.113.9, 10.0.0.2", []string{"http, https"}, "http"},
		// The client sent its own claim first; the proxies appended theirs.
		{"client claim left of the hops", "203.0.113.9, 10.0.0.2", []string{"https, http, https"}, "http"},
		{"claim as its own line", "203.0.113.9", []string{"https", "http"}, "http"},
		// Empty elements keep their place: one where the read lands is a
		// missing value (the gateway's own view), never a reason to read
		// the client's claim to its left.
		{"empty element a proxy appended", "203.0.113.9", []string{"https, "}, ""},
		{"empty element as its own line", "203.0.113.9", []string{"https", ""}, ""},
		{"empty element among the hops", "203.0.113.9, 10.0.0.2", []string{"https, , http"}, ""},
		{"empty first-hop element", "203.0.113.9, 10.0.0.2", []string{", https"}, ""},
		{"empty elements keep their place", "203.0.113.9, 10.0.0.2", []string{", https ,, ", " ,http,"}, "http"},
		{"empty elements left of the read", "203.0.113.9, 10.0.0.2", []string{",, , https, http"}, "https"},
		{"trailing comma of the peer", "", []string{"https,"}, ""},
		{"only commas", "203.0.113.9, 10.0.0.2", []string{",,,,"}, ""},
		{"only spaces", "", []string{" \t "}, ""},
		{"spaces and tabs between", "203.0.113.9", []string{"https,\t \t, "}, ""},
		{"duplicated lines, last empty", "203.0.113.9", []string{"https", "https", ""}, ""},
		{"duplicated lines, empty among the hops", "203.0.113.9, 10.0.0.2", []string{"https", "", "http"}, ""},
		{"oversized, client claims on the left", "203.0.113.9", []string{strings.Repeat("https,", 100000) + "http"}, "http"},
		{"oversized, empty at the read", "203.0.113.9", []string{strings.Repeat("https,", 100000)}, ""},
		{"oversized run of commas", "", []string{strings.Repeat(",", 1<<20) + "https"}, "https"},
		{"oversized element", "", []string{strings.Repeat("h", 1<<20) + ",https"}, "https"},
		{"no X-Forwarded-For: the peer's element", "", []string{"https, http"}, "http"},
		{"list shorter than the walk", "203.0.113.9, 10.0.0.3, 10.0.0.2", []string{"https"}, "https"},
		{"shorter list of two", "203.0.113.9, 10.0.0.3, 10.0.0.2", []string{"https, http"}, "https"},
		{"hundred elements, client untrusted", "203.0.113.9", []string{hundred}, "http"},
		{"hundred elements, hops capped", strings.Repeat("10.0.0.9, ", 99) + "10.0.0.2", []string{hundred}, "https"},
		{"non-address entry ends the walk", "junk, 10.0.0.2", []string{"https, http"}, "http"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := trustedProto(protoRequest(tt.xff, tt.proto...), trusted)
			if tt.want == "" {
				if got != nil {
					t.Fatalf("got %q, want none", got)
				}
				return
			}
			if len(got) != 1 || got[0] != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// The usual values come from the shared slices: no allocation per request.
func TestTrustedProtoAllocations(t *testing.T) {
	trusted := trustedProxies{netip.MustParsePrefix("10.0.0.0/8")}
	for _, r := range []*http.Request{protoRequest("", "https"), protoRequest("203.0.113.9, 10.0.0.2", "HTTPS, http")} {
		if n := testing.AllocsPerRun(100, func() { trustedProto(r, trusted) }); n != 0 {
			t.Errorf("%q: %v allocations", r.Header["X-Forwarded-Proto"], n)
		}
	}
}

func FuzzTrustedProto(f *testing.F) {
	f.Add("203.0.113.9, 10.0.0.2", "https, http")
	f.Add("", ",,")
	f.Add("203.0.113.9", "https, ")
	f.Add("203.0.113.9, 10.0.0.2", "https, , http")
	trusted := trustedProxies{netip.MustParsePrefix("10.0.0.0/8")}
	f.Fuzz(func(t *testing.T, xff, proto string) {
		// A claim left of the element read changes nothing (the client
		// is one hop out: the element read is the rightmost, empty or not).
		one := trustedProto(protoRequest("203.0.113.9", proto), trusted)
		if claimed := trustedProto(protoRequest("203.0.113.9", "https,"+proto), trusted); !slices.Equal(one, claimed) {
			t.Fatalf("%q read %q, with the client's https on its left %q", proto, one, claimed)
		}
		got := trustedProto(protoRequest(xff, proto), trusted)
		if got == nil {
			return
		}
		v := got[0]
		if len(got) != 1 || v == "" || len(v) > maxProtoLen || v != strings.ToLower(v) || strings.ContainsAny(v, " ,\t") {
			t.Fatalf("%q %q: %q", xff, proto, got)
		}
	})
}
