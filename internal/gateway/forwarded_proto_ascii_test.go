package gateway

import (
	"net/netip"
	"testing"
)

// strings.EqualFold folds Unicode: "httpſ" (U+017F LONG S) and "HTTPſ"
// matched "https", so a trusted proxy's list element that is not a scheme
// at all reached the origin as X-Forwarded-Proto: https and made the
// hash cookie Secure. Schemes are ASCII (RFC 3986 3.1): such an element
// says nothing, and the gateway's own view holds.
func TestTrustedProtoNonASCIIIsNotAScheme(t *testing.T) {
	trusted := trustedProxies{netip.MustParsePrefix("10.0.0.0/8")}
	for _, v := range []string{"httpſ", "HTTPſ", "\u212Attp"} {
		if got := trustedProto(protoRequest("", v), trusted); got != nil {
			t.Errorf("%q: got %q, want none", v, got)
		}
	}
	// In a list the element is read at its place: the rightmost here.
	if got := trustedProto(protoRequest("", "http, httpſ"), trusted); got != nil {
		t.Errorf("list: got %q, want none", got)
	}
}
