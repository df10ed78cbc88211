package server

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/backline/backline/internal/health"
)

func TestBackendViewCheckedAddr(t *testing.T) {
	for addr, want := range map[string]string{
		"192.0.2.7":    `"checked_addr":"192.0.2.7"`,
		"2001:db8::7":  `"checked_addr":"2001:db8::7"`,
		"fe80::7%eth0": `"checked_addr":"fe80::7%eth0"`,
	} {
		out, err := json.Marshal(viewBackend(health.Backend{ID: "x", Addr: netip.MustParseAddr(addr)}))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(out), want) {
			t.Errorf("missing %s in %s", want, out)
		}
	}
	plain, _ := json.Marshal(viewBackend(health.Backend{ID: "x"}))
	if strings.Contains(string(plain), "checked_addr") {
		t.Errorf("a backend never checked shows an address: %s", plain)
	}
}
