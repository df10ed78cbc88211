package integration

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/backline/backline/internal/testfixture"
)

// TestGatewayProxyProtocolHAProxy sends proxy_protocol v1 and v2 to the
// fixture's HAProxy accept-proxy HTTP frontend, which answers with the
// addresses the header named: HAProxy's own parser is the judge. Its
// beta_health checks (LOCAL / UNKNOWN) pass the same frontend, and a
// backend without the header is refused.
func TestGatewayProxyProtocolHAProxy(t *testing.T) {
	f := testfixture.Load(t)
	port := f.Port("HAPROXY_ACCEPT_PROXY_HTTP")
	yml := fmt.Sprintf(`definitions:
  backends:
    v1:
      origin: http://127.0.0.1:%[1]d
      proxy_protocol: v1
      beta_health:
        interval: 1h
        failure_threshold: 1
        expected_text: "src=127.0.0.1 "
    v2:
      origin: http://127.0.0.1:%[1]d
      proxy_protocol: v2
      beta_health:
        interval: 1h
        failure_threshold: 1
        expected_text: "src=127.0.0.1 "
    none:
      origin: http://127.0.0.1:%[1]d
gateway:
  address: 127.0.0.1:18997
  trusted_proxies: [127.0.0.1]
  endpoints:
    - path: /v1
      proxy:
        backend: v1
    - path: /v2
      proxy:
        backend: v2
    - path: /none
      proxy:
        backend: none
`, port)
	gw, engine, logs := startCheckedGateway(t, yml, nil)
	waitForVerdicts(t, engine, 2)
	for _, b := range engine.Snapshot().Backends {
		if !b.Eligible {
			t.Fatalf("%s: health check with the PROXY header failed: %s", b.ID, b.Deep.LastError)
		}
	}

	srv := httptest.NewServer(gw.Handler())
	defer srv.Close()
	var clientPort string
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err == nil {
			_, clientPort, _ = net.SplitHostPort(c.LocalAddr().String())
		}
		return c, err
	}}
	client := &http.Client{Transport: tr}
	defer client.CloseIdleConnections()
	get := func(path, xff string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, path := range []string{"/v1", "/v2"} {
		status, body := get(path, "")
		if want := fmt.Sprintf("src=127.0.0.1 src_port=%s dst=127.0.0.1 dst_port=%d\n", clientPort, port); status != 200 || body != want {
			t.Errorf("%s: %d %q, want %q\n%s", path, status, body, want, logs.String())
		}
		// X-Forwarded-For has no port: the header says 0, which HAProxy
		// prints as nothing.
		status, body = get(path, "203.0.113.5")
		if want := fmt.Sprintf("src=203.0.113.5 src_port= dst=127.0.0.1 dst_port=%d\n", port); status != 200 || body != want {
			t.Errorf("%s behind a trusted proxy: %d %q, want %q", path, status, body, want)
		}
		status, body = get(path, "2001:db8::5")
		if status != 200 || !strings.HasPrefix(body, "src=2001:db8::5 src_port= dst=::ffff:127.0.0.1 ") {
			t.Errorf("%s IPv6 client: %d %q", path, status, body)
		}
	}
	if status, body := get("/none", ""); status != http.StatusBadGateway {
		t.Errorf("/none without the header: %d %q", status, body)
	}
}
