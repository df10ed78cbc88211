package config

import (
	"strings"
	"testing"
)

func TestProxyProtocolValues(t *testing.T) {
	for _, v := range []string{"v1", "v2"} {
		b := mustParse(t, queueYAML("proxy_protocol: "+v+"\n")).Definitions.Backends["api"]
		if b.ProxyProtocol != v {
			t.Errorf("proxy_protocol %q read as %q", v, b.ProxyProtocol)
		}
	}
	if b := mustParse(t, queueYAML("")).Definitions.Backends["api"]; b.ProxyProtocol != "" {
		t.Errorf("off by default, got %q", b.ProxyProtocol)
	}
}

func TestProxyProtocolErrors(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{"proxy_protocol: v3\n", `definitions.backends.api.proxy_protocol (line 5): must be "v1" or "v2", got "v3"`},
		{"proxy_protocol: V1\n", `definitions.backends.api.proxy_protocol (line 5): must be "v1" or "v2", got "V1"`},
		{"proxy_protocol: \"1\"\n", `definitions.backends.api.proxy_protocol (line 5): must be "v1" or "v2", got "1"`},
		{"proxy_protocol: \"v1\\n\\u0000\"\n", `definitions.backends.api.proxy_protocol (line 5): must be "v1" or "v2", got "v1\n\x00"`},
		{"proxy_protocol: v2\nproxy: http://127.0.0.1:3128\n", "definitions.backends.api.proxy_protocol (line 5): cannot be used with proxy: the PROXY header must reach the origin, not a forward proxy; remove one of them"},
	} {
		wantError(t, queueYAML(tc.body), tc.want)
	}
	for _, body := range []string{"proxy_protocol: true\n", "proxy_protocol: [v1]\n", "proxy_protocol: {v: 1}\n"} {
		got := strings.Join(parseErrors(t, queueYAML(body)), "\n")
		if !strings.Contains(got, "definitions.backends.api.proxy_protocol") || !strings.Contains(got, "(line 5)") {
			t.Errorf("%q: error lacks key path or line: %s", body, got)
		}
	}
	long := strings.Repeat("v", 5000)
	got := strings.Join(parseErrors(t, queueYAML("proxy_protocol: "+long+"\n")), "\n")
	if !strings.Contains(got, "definitions.backends.api.proxy_protocol (line 5)") {
		t.Errorf("oversized value: %.200s", got)
	}
}

// A refinement may not set proxy_protocol (the label's pools carry it),
// nor a forward proxy on a label that sends it.
func TestProxyProtocolRefinement(t *testing.T) {
	ref := func(key string) string {
		return queueYAML("proxy_protocol: v1\n") + `gateway:
  address: 127.0.0.1:18999
  endpoints:
    - path: /x
      proxy:
        backend:
          label: api
          ` + key + "\n"
	}
	wantError(t, ref("proxy_protocol: v2"), `gateway.endpoints[0].proxy.backend.proxy_protocol (line 13): backend reference: refinement for "api" is not permitted (proxy_protocol)`)
	wantError(t, ref("proxy: http://127.0.0.1:3128"), `gateway.endpoints[0].proxy.backend.proxy (line 13): backend reference: "api" sends proxy_protocol, which cannot go through a forward proxy; remove proxy from the refinement`)
}
