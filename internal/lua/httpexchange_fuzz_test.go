package lua

import (
	"net/textproto"
	"strings"
	"testing"

	"golang.org/x/net/http/httpguts"
)

// FuzzResponseHeader: whatever a script passes, what is accepted is a
// token name outside the reserved set with a value free of control
// characters; the exchange never exceeds its budget.
func FuzzResponseHeader(f *testing.F) {
	for _, s := range [][2]string{
		{"X-A", "b"}, {"Auth-Status", "OK"}, {"auth-status", "OK"}, {"X-A", "a\r\nAuth-Status: OK"},
		{"X A", "b"}, {"Connection", "close"}, {"X-A", "\x00"}, {"X-\u00e9", "v"}, {"X-A", "caf\u00e9"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, name, value string) {
		x := &HTTPExchange{}
		for i := 0; i < 70; i++ {
			err := x.setHeader(name, value, true)
			why := CheckResponseHeader(name, value)
			if (why == "") != (err == nil || err == errResponseHeaderBudget) {
				t.Fatalf("CheckResponseHeader %q vs setHeader %v", why, err)
			}
			if why != "" {
				return
			}
		}
		key := textproto.CanonicalMIMEHeaderKey(name)
		if !httpguts.ValidHeaderFieldName(name) || strings.ContainsAny(value, "\r\n\x00") || strings.HasPrefix(key, "Auth-") ||
			reservedResponseHeaders[key] != "" {
			t.Fatalf("accepted %q: %q", name, value)
		}
		h := x.ResponseHeaders()
		n, size := 0, 0
		for k, vs := range h {
			for _, v := range vs {
				n++
				size += len(k) + len(v)
			}
		}
		if n > maxResponseHeaderValues || size > maxResponseHeaderBytes {
			t.Fatalf("budget exceeded: %d values, %d bytes", n, size)
		}
	})
}
