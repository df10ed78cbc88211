package auth

import (
	"net/http"
	"testing"
)

// TestAnswerHeaderNamesAreCanonical: setCanonical skips canonicalisation,
// so a name that is not canonical would be invisible to Header.Get.
func TestAnswerHeaderNamesAreCanonical(t *testing.T) {
	for _, k := range []string{hdrSession, hdrAuthStatus, hdrAuthUser, hdrMemoryCache, hdrAuthServer, hdrAuthPort} {
		if c := http.CanonicalHeaderKey(k); c != k {
			t.Errorf("%q is not canonical (%q)", k, c)
		}
	}
}

// TestSetCanonicalValuesDoNotShareGrowth: the values share one array; an
// Add to one header must not overwrite the next one's value.
func TestSetCanonicalValuesDoNotShareGrowth(t *testing.T) {
	hdr := http.Header{}
	setCanonical(hdr, hdrAuthStatus, "OK", hdrAuthServer, "127.0.0.1", hdrAuthPort, "143")
	hdr.Add(hdrAuthStatus, "again")
	hdr.Set(hdrAuthServer, "::1")
	if got := hdr.Values(hdrAuthStatus); len(got) != 2 || got[0] != "OK" || got[1] != "again" {
		t.Fatalf("Auth-Status %q", got)
	}
	if hdr.Get(hdrAuthServer) != "::1" || hdr.Get(hdrAuthPort) != "143" {
		t.Fatalf("headers %v", hdr)
	}
	hdr2 := http.Header{}
	setCanonical(hdr2, hdrAuthStatus, "OK", hdrAuthPort, "143")
	hdr2[hdrAuthStatus] = append(hdr2[hdrAuthStatus], "x")
	if hdr2.Get(hdrAuthPort) != "143" {
		t.Fatalf("append overwrote the next value: %v", hdr2)
	}
}
