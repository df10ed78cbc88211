package config

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

func TestGatewayTrustedProxies(t *testing.T) {
	base := "gateway:\n  address: 127.0.0.1:8080\n  trusted_proxies:\n"
	c := mustParse(t, base+"    - 10.0.0.0/8\n    - 192.0.2.7\n    - \"2001:db8::/32\"\n    - private_ranges\n")
	if got := len(c.Gateway.TrustedProxyPrefixes()); got != 3+7 {
		t.Errorf("%d prefixes, want 10 (private_ranges is 8, 10.0.0.0/8 is one of them)", got)
	}
	// Repeats and entries inside a listed range add nothing to compare per request.
	c = mustParse(t, base+strings.Repeat("    - private_ranges\n", 50)+"    - 10.1.2.3\n    - 192.0.2.7\n    - 192.0.2.7\n")
	if got := len(c.Gateway.TrustedProxyPrefixes()); got != 8+1 {
		t.Errorf("%d prefixes, want 9", got)
	}
	for entry, msg := range map[string]string{
		"10.0.0.0/33":    `is not an IP prefix (like 10.0.0.0/8): "10.0.0.0/33"`,
		"example.com":    `must be an IP address, a CIDR prefix or private_ranges, got "example.com"`,
		`"fe80::1%eth0"`: `must be an IP address, a CIDR prefix or private_ranges, got "fe80::1%eth0"`,
		`""`:             `must be an IP address, a CIDR prefix or private_ranges, got ""`,
		`"10.0.0.1\n"`:   `must be an IP address, a CIDR prefix or private_ranges, got "10.0.0.1\n"`,
	} {
		wantOnlyError(t, base+"    - 10.0.0.1\n    - "+entry+"\n", "gateway.trusted_proxies[1] (line 5): "+msg)
	}
	many := base + strings.Repeat("    - 10.0.0.1\n", maxTrustedProxies+1)
	wantOnlyError(t, many, fmt.Sprintf("gateway.trusted_proxies (line 3): at most %d entries, got %d", maxTrustedProxies, maxTrustedProxies+1))
	wantOnlyError(t, base+"    nope: 1\n", "gateway.trusted_proxies (line 4): must be a list")
}

// gateway.http1_server: the two servers, the default, and nothing else.
func TestGatewayHTTP1Server(t *testing.T) {
	for _, ok := range []string{"", "    http1_server: backline\n", "    http1_server: net/http\n"} {
		cfg, err := Parse([]byte("gateway:\n  address: 127.0.0.1:8080\n" + strings.Replace(ok, "    ", "  ", 1)))
		if err != nil {
			t.Fatalf("%q: %v", ok, err)
		}
		_ = cfg
	}
	for _, bad := range []string{"fasthttp", "net/http2", "Backline", "backline\r\nX: y"} {
		wantOnlyError(t, "gateway:\n  address: 127.0.0.1:8080\n  http1_server: "+strconv.Quote(bad)+"\n",
			fmt.Sprintf("gateway.http1_server (line 3): must be \"backline\" or \"net/http\", got %q", bad))
	}
}
