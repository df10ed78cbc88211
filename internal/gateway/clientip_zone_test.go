package gateway

import (
	"net/http"
	"testing"
)

// An IPv6 zone names an interface of the gateway's host: it is not part of
// the client's address as origins and the access log see it.
func TestClientIPDropsTheZone(t *testing.T) {
	for remote, want := range map[string]string{
		"[fe80::1%eth0]:5000": "fe80::1",
		"[fe80::1%25]:5000":   "fe80::1",
		"[2001:db8::1]:443":   "2001:db8::1",
		"192.0.2.7:1234":      "192.0.2.7",
		"no-port":             "",
	} {
		if got := clientIP(&http.Request{RemoteAddr: remote}); got != want {
			t.Errorf("clientIP(%q) = %q, want %q", remote, got, want)
		}
	}
}
