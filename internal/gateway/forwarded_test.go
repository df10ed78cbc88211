package gateway

import (
	"bufio"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/backline/backline/internal/config"
)

const proxyX = "    - path: /x\n      proxy:\n        backend: api\n"

// wantForwarded checks the X-Forwarded-Proto and X-Forwarded-Host the
// origin saw: exactly one value each (host "" means none at all).
func wantForwarded(t *testing.T, e echo, proto, host string) {
	t.Helper()
	if got := e.Header["X-Forwarded-Proto"]; !slices.Equal(got, []string{proto}) {
		t.Errorf("X-Forwarded-Proto = %q, want %q", got, proto)
	}
	want := []string{host}
	if host == "" {
		want = nil
	}
	if got := e.Header["X-Forwarded-Host"]; !slices.Equal(got, want) {
		t.Errorf("X-Forwarded-Host = %q, want %q", got, want)
	}
}

// A client on plain HTTP cannot pass itself off as https, nor name
// another host: whatever it sends under these names is replaced.
func TestForwardedProtoHostPlainReplacesClientValues(t *testing.T) {
	o := newEcho(t)
	h := newHarness(t, gatewayYAML(o.URL, "", proxyX))
	gwHost := strings.TrimPrefix(h.srv.URL, "http://")
	wantForwarded(t, h.echo("/x", nil), "http", gwHost)
	e := h.echo("/x", map[string]string{"Host": "public.example", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example"})
	wantForwarded(t, e, "http", "public.example")
	// The origin's Host stays the origin's, and X-Forwarded-For is still
	// appended to, not replaced.
	if e.Host != strings.TrimPrefix(o.URL, "http://") {
		t.Errorf("Host = %q", e.Host)
	}

	for name, raw := range map[string]string{
		"repeated fields": "GET /x HTTP/1.1\r\nHost: gw.test\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Proto: https\r\n" +
			"X-Forwarded-Host: a\r\nX-Forwarded-Host: b\r\nX-Forwarded-For: 10.1.1.1\r\nConnection: close\r\n\r\n",
		"lower case": "GET /x HTTP/1.1\r\nHost: gw.test\r\nx-forwarded-proto: https\r\nx-forwarded-host: evil\r\n" +
			"X-Forwarded-For: 10.1.1.1\r\nConnection: close\r\n\r\n",
		// CGI-style origins read X_Forwarded_Proto as X-Forwarded-Proto.
		"underscores": "GET /x HTTP/1.1\r\nHost: gw.test\r\nX_Forwarded_Proto: https\r\nx_forwarded-host: evil\r\n" +
			"X-Forwarded-For: 10.1.1.1\r\nConnection: close\r\n\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			a := rawRequest(t, h, raw)
			e := decodeEcho(t, a.body)
			wantForwarded(t, e, "http", "gw.test")
			for k := range e.Header {
				if strings.Contains(k, "_") {
					t.Errorf("alias %q passed on", k)
				}
			}
			if got := e.Header["X-Forwarded-For"]; !slices.Equal(got, []string{"10.1.1.1, 127.0.0.1"}) {
				t.Errorf("X-Forwarded-For = %q", got)
			}
		})
	}
	t.Run("HTTP/1.0 without Host", func(t *testing.T) {
		a := rawRequest(t, h, "GET /x HTTP/1.0\r\nX-Forwarded-Host: evil\r\nX-Forwarded-Proto: https\r\n\r\n")
		wantForwarded(t, decodeEcho(t, a.body), "http", "")
	})
}

// Over gateway.tls the origin learns https, on HTTP/1.1 (r.TLS from the
// framing connection) and on h2 alike; a client saying http is replaced.
func TestForwardedProtoHostOverTLS(t *testing.T) {
	o := newEcho(t)
	for _, h2 := range []bool{false, true} {
		h := newTLSHarness(t, gatewayYAML(o.URL, "", proxyX), h2)
		resp, body := h.do(http.MethodGet, "/x", nil, map[string]string{"X-Forwarded-Proto": "http", "X-Forwarded-Host": "evil.example"})
		if resp.StatusCode != 200 || (resp.ProtoMajor == 2) != h2 {
			t.Fatalf("h2 %v: status %d proto %s: %s", h2, resp.StatusCode, resp.Proto, body)
		}
		wantForwarded(t, decodeEcho(t, body), "https", strings.TrimPrefix(h.srv.URL, "https://"))
		resp, body = h.do(http.MethodGet, "/x", nil, map[string]string{"Host": "public.example:8443"})
		if resp.StatusCode != 200 {
			t.Fatalf("h2 %v: status %d: %s", h2, resp.StatusCode, body)
		}
		wantForwarded(t, decodeEcho(t, body), "https", "public.example:8443")
	}
}

// Set before every modifier: endpoint, proxy and backend modifiers can
// replace, extend or remove them, and may pass on a value a trusted front
// proxy sent (the client's header, read through a template).
func TestForwardedProtoHostModifiersHaveTheLastWord(t *testing.T) {
	o := newEcho(t)
	h := newHarness(t, gatewayYAML(o.URL, `      remove_request_headers: [X-Forwarded-Host]
`, `    - path: /x
      set_request_headers:
        X-Forwarded-Proto: ${request.headers.x-forwarded-proto}
      proxy:
        backend: api
    - path: /add
      proxy:
        backend:
          origin: `+o.URL+`
        add_request_headers:
          X-Forwarded-Proto: extra
          X-Forwarded-Host: extra.example
    - path: /plain
      proxy:
        backend: api
`))
	e := h.echo("/x", map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "lb.example"})
	if got := e.Header["X-Forwarded-Proto"]; !slices.Equal(got, []string{"https"}) {
		t.Errorf("X-Forwarded-Proto = %q, want the client's https", got)
	}
	if got, ok := e.Header["X-Forwarded-Host"]; ok {
		t.Errorf("X-Forwarded-Host = %q, want it removed", got)
	}
	e = h.echo("/add", map[string]string{"Host": "gw.example"})
	if got := e.Header["X-Forwarded-Proto"]; !slices.Equal(got, []string{"http", "extra"}) {
		t.Errorf("X-Forwarded-Proto = %q", got)
	}
	if got := e.Header["X-Forwarded-Host"]; !slices.Equal(got, []string{"gw.example", "extra.example"}) {
		t.Errorf("X-Forwarded-Host = %q", got)
	}
	// Adding to the shared value copied it: the next request is clean.
	if !slices.Equal(forwardedProtoHTTP, []string{"http"}) || !slices.Equal(forwardedProtoHTTPS, []string{"https"}) {
		t.Fatalf("shared values written: %q %q", forwardedProtoHTTP, forwardedProtoHTTPS)
	}
	e = h.echo("/plain", map[string]string{"Host": "gw.example"})
	if got := e.Header["X-Forwarded-Proto"]; !slices.Equal(got, []string{"http"}) {
		t.Errorf("X-Forwarded-Proto after an add = %q", got)
	}
}

// A request block's request describes the client's request as
// X-Forwarded-For does; its own headers win.
func TestForwardedProtoHostOnRequestBlocks(t *testing.T) {
	o := newEcho(t)
	h := newHarness(t, requestEndpoint(o.URL, "", "        url: /q\n")+
		"    - path: /own\n      request:\n        backend: api\n        headers:\n          X-Forwarded-Host: api.example\n")
	e := h.echo("/r/1", map[string]string{"Host": "gw.example", "X-Forwarded-Proto": "https"})
	wantForwarded(t, e, "http", "gw.example")
	wantForwarded(t, h.echo("/own", map[string]string{"Host": "gw.example"}), "http", "api.example")
}

// A retry on another origin after a failed connect sends one value each,
// as the first attempt would have.
func TestForwardedProtoHostAfterRetry(t *testing.T) {
	tr := &transcript{}
	h := newHarness(t, originsYAML("", refusedOrigin(t), tr.origin(t, "ok", nil)))
	e := h.echo("/r", map[string]string{"Host": "gw.example", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil"})
	wantForwarded(t, e, "http", "gw.example")
	if got := e.Header["X-Forwarded-For"]; !slices.Equal(got, []string{"127.0.0.1"}) {
		t.Errorf("X-Forwarded-For = %q", got)
	}
	if got := metricSum(t, h, "backline_gateway_origin_retries_total", "", ""); got != 1 {
		t.Errorf("retries = %v, want 1", got)
	}
}

// A websocket handshake carries them like any request, forged values
// replaced, on plain HTTP and over gateway.tls.
func TestForwardedProtoHostOnWebsocketHandshake(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		newH := func(t *testing.T, yml string) *harness { return newHarness(t, yml) }
		if useTLS {
			newH = func(t *testing.T, yml string) *harness { return newTLSHarness(t, yml, true) }
		}
		h, o := wsHarnessWith(t, "        websockets: true\n", newH)
		conn := h.dialRaw(t)
		_, err := conn.Write([]byte("GET /chat/x HTTP/1.1\r\nHost: gw.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Key: " + wsKey + "\r\nSec-WebSocket-Version: 13\r\n" +
			"X-Forwarded-Proto: https\r\nX-Forwarded-Proto: wss\r\nX-Forwarded-Host: evil\r\n\r\n"))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil || resp.StatusCode != 101 {
			t.Fatalf("tls %v: %v %v", useTLS, err, resp)
		}
		conn.Close()
		waitForLog(t, h, `"status":101`)
		proto := "http"
		if useTLS {
			proto = "https"
		}
		got := o.handshakes()
		if len(got) != 1 || !strings.Contains(got[0], "X-Forwarded-Host: gw.test\nX-Forwarded-Proto: "+proto+"\n") {
			t.Fatalf("tls %v: origin saw\n%s", useTLS, strings.Join(got, "\n--\n"))
		}
	}
}

// A trusted proxy (a load balancer that terminated TLS in front of the
// gateway) has its X-Forwarded-Proto and X-Forwarded-Host passed on: the
// scheme read from its list (trustedProto: without X-Forwarded-For the
// element the proxy itself wrote, the rightmost; lines are one list) and
// the host read at the same place (forwardedView.host); what it did not send
// the gateway sets. Anyone else is replaced as before.
func TestForwardedProtoHostFromTrustedProxies(t *testing.T) {
	o := newEcho(t)
	for _, trusted := range []string{"[127.0.0.1]", "[127.0.0.0/8]", "[private_ranges]", `["::1", 127.0.0.1]`} {
		t.Run(trusted, func(t *testing.T) {
			h := newHarness(t, gatewayYAML(o.URL, "", proxyX+"    - path: /r\n      request:\n        backend: api\n")+
				"  trusted_proxies: "+trusted+"\n")
			lb := map[string]string{"Host": "gw.example", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "public.example"}
			wantForwarded(t, h.echo("/x", lb), "https", "public.example")
			wantForwarded(t, h.echo("/r", lb), "https", "public.example")
			wantForwarded(t, h.echo("/x", map[string]string{"Host": "gw.example"}), "http", "gw.example")
			a := rawRequest(t, h, "GET /x HTTP/1.1\r\nHost: gw.test\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Proto: http\r\n"+
				"X-Forwarded-Host: a.example\r\nX-Forwarded-Host: b.example\r\nX_Forwarded_Proto: http\r\nConnection: close\r\n\r\n")
			// Both lists read at one place: the peer's own line, the last.
			wantForwarded(t, decodeEcho(t, a.body), "http", "b.example")
			// One element per hop, the client's first (X-Forwarded-For
			// names the client and one trusted hop): the first.
			wantForwarded(t, h.echo("/x", map[string]string{"Host": "gw.example", "X-Forwarded-For": "203.0.113.9, 127.0.0.1",
				"X-Forwarded-Proto": "HTTPS, http", "X-Forwarded-Host": "public.example"}), "https", "public.example")
			wantForwarded(t, h.echo("/r", map[string]string{"Host": "gw.example", "X-Forwarded-For": "203.0.113.9, 127.0.0.1",
				"X-Forwarded-Proto": "HTTPS, http", "X-Forwarded-Host": "public.example"}), "https", "public.example")
			// The trusted proxy appended an empty element after the
			// client's own https: the gateway's view, not the claim.
			b := rawRequest(t, h, "GET /x HTTP/1.1\r\nHost: gw.test\r\nX-Forwarded-For: 203.0.113.9\r\n"+
				"X-Forwarded-Proto: https\r\nX-Forwarded-Proto: \r\nConnection: close\r\n\r\n")
			wantForwarded(t, decodeEcho(t, b.body), "http", "gw.test")
			wantForwarded(t, h.echo("/r", map[string]string{"Host": "gw.example", "X-Forwarded-For": "203.0.113.9",
				"X-Forwarded-Proto": "https, "}), "http", "gw.example")
		})
	}
	h := newHarness(t, gatewayYAML(o.URL, "", proxyX)+"  trusted_proxies: [10.0.0.0/8, \"2001:db8::/32\", 192.0.2.7]\n")
	e := h.echo("/x", map[string]string{"Host": "gw.example", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example"})
	wantForwarded(t, e, "http", "gw.example")
}

func TestTrustedProxiesContains(t *testing.T) {
	var none trustedProxies
	if none.contains("127.0.0.1:1") {
		t.Fatal("nobody is trusted by default")
	}
	cfg := config.Gateway{TrustedProxies: []string{"10.0.0.0/8", "::1", "private_ranges"}}
	tp := trustedProxies(cfg.TrustedProxyPrefixes())
	for addr, want := range map[string]bool{
		"10.1.2.3:5": true, "[::1]:80": true, "[::ffff:10.0.0.1]:9": true, "192.168.1.1:1": true,
		"8.8.8.8:53": false, "[2001:db8::1]:1": false, "garbage": false, "": false, "10.0.0.1": false,
	} {
		if got := tp.contains(addr); got != want {
			t.Errorf("contains(%q) = %v, want %v", addr, got, want)
		}
	}
}
