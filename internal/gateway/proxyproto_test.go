package gateway

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/pires/go-proxyproto"
)

// ppSeen is what a PROXY-requiring origin saw on one request.
type ppSeen struct {
	Version byte   `json:"version"`
	Command string `json:"command"`
	Source  string `json:"source"`
	Dest    string `json:"dest"`
	Conn    string `json:"conn"` // the gateway's end of the origin connection
	Proto   string `json:"proto"`
	IPv6    bool   `json:"ipv6"` // TCP6 (v1) or AF_INET6 (v2)
}

type ppConnKey struct{}

// ppOrigin is an origin behind a listener that requires a PROXY header on
// every connection: a connection without one never reaches the handler.
type ppOrigin struct {
	*httptest.Server
	mu       sync.Mutex
	conns    int // connections that carried a header
	noHeader int // requests the handler saw without a header (must stay 0)
}

func newPPOrigin(t *testing.T, tlsOn, http2, h2c bool) *ppOrigin {
	t.Helper()
	o := &ppOrigin{}
	o.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pc, _ := r.Context().Value(ppConnKey{}).(*proxyproto.Conn)
		var h *proxyproto.Header
		if pc != nil {
			h = pc.ProxyHeader()
		}
		if h == nil {
			o.mu.Lock()
			o.noHeader++
			o.mu.Unlock()
			http.Error(w, "no PROXY header", http.StatusTeapot)
			return
		}
		s := ppSeen{Version: h.Version, Command: ppCommand(h), Conn: pc.Raw().RemoteAddr().String(), Proto: r.Proto,
			IPv6: h.TransportProtocol.IsIPv6()}
		if src, dst, ok := h.TCPAddrs(); ok {
			s.Source, s.Dest = src.String(), dst.String()
		}
		if r.Header.Get("Upgrade") != "" {
			w.Header().Set("X-Source", s.Source)
			w.Header().Set("Connection", "Upgrade")
			w.Header().Set("Upgrade", "websocket")
			w.WriteHeader(http.StatusSwitchingProtocols)
			return
		}
		_ = json.NewEncoder(w).Encode(s)
	}))
	startPPServer(t, o.Server, func() {
		o.mu.Lock()
		o.conns++
		o.mu.Unlock()
	}, tlsOn, http2, h2c)
	return o
}

// startPPServer starts o behind a listener that requires a PROXY header
// (onConn, when not nil, is called for each connection that carries one)
// and hands each request its *proxyproto.Conn under ppConnKey: over TLS,
// h2c (h2c) or plain HTTP/1.1, HTTP/2 over TLS when http2.
func startPPServer(t *testing.T, o *httptest.Server, onConn func(), tlsOn, http2, h2c bool) {
	t.Helper()
	o.Listener = &proxyproto.Listener{
		Listener: o.Listener,
		ConnPolicy: func(proxyproto.ConnPolicyOptions) (proxyproto.Policy, error) {
			if onConn != nil {
				onConn()
			}
			return proxyproto.REQUIRE, nil
		},
	}
	o.Config.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		if tc, ok := c.(*tls.Conn); ok {
			c = tc.NetConn()
		}
		return context.WithValue(ctx, ppConnKey{}, c)
	}
	switch {
	case h2c:
		o.Config.Protocols = new(http.Protocols)
		o.Config.Protocols.SetHTTP1(true)
		o.Config.Protocols.SetUnencryptedHTTP2(true)
		o.Start()
	case tlsOn:
		o.EnableHTTP2 = http2
		o.StartTLS()
	default:
		o.Start()
	}
	t.Cleanup(o.Close)
}

func (o *ppOrigin) counts() (conns, noHeader int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.conns, o.noHeader
}

func ppHarness(t *testing.T, o *ppOrigin, backend, gatewayExtra string) *harness {
	t.Helper()
	return newHarness(t, gatewayYAML(o.URL, backend, "    - path: /x\n      proxy:\n        backend: api\n")+gatewayExtra)
}

func ppGet(t *testing.T, h *harness, hdr map[string]string) ppSeen {
	t.Helper()
	resp, body := h.do(http.MethodGet, "/x", nil, hdr)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s\n%s", resp.StatusCode, body, h.logs.String())
	}
	var s ppSeen
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	return s
}

// The header names the client and the origin's address, in the version
// asked for; a keep-alive connection sends it once.
func TestProxyProtocolVersions(t *testing.T) {
	for _, tc := range []struct {
		version string
		want    byte
	}{{"v1", 1}, {"v2", 2}} {
		t.Run(tc.version, func(t *testing.T) {
			o := newPPOrigin(t, false, false, false)
			h := ppHarness(t, o, "      proxy_protocol: "+tc.version+"\n", "")
			first := ppGet(t, h, nil)
			second := ppGet(t, h, nil)
			if first.Version != tc.want || first.Command != "PROXY" {
				t.Fatalf("header %+v", first)
			}
			if first.Dest != strings.TrimPrefix(o.URL, "http://") {
				t.Errorf("destination %s, want the origin %s", first.Dest, o.URL)
			}
			src := netip.MustParseAddrPort(first.Source)
			if src.Addr() != netip.MustParseAddr("127.0.0.1") || src.Port() == 0 {
				t.Errorf("source %s, want the client 127.0.0.1 with its port", first.Source)
			}
			if second.Conn != first.Conn || second.Source != first.Source {
				t.Errorf("the second request of one client took a new connection or header: %+v then %+v", first, second)
			}
			if conns, no := o.counts(); conns != 1 || no != 0 {
				t.Errorf("origin saw %d connections, %d requests without a header", conns, no)
			}
		})
	}
}

// Without proxy_protocol the same origin refuses the connection: nothing
// reaches it, the client gets a 502.
func TestProxyProtocolOffSendsNothing(t *testing.T) {
	o := newPPOrigin(t, false, false, false)
	h := ppHarness(t, o, "", "")
	resp, body := h.do(http.MethodGet, "/x", nil, nil)
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if _, no := o.counts(); no != 0 {
		t.Fatalf("%d requests reached the origin without a header", no)
	}
}

// Behind gateway.trusted_proxies the source is the client X-Forwarded-For
// names (port 0: the header carries none), and connections are never
// shared between client addresses: each address has its own, a returning
// address gets its own back. IPv6 and IPv4-mapped clients go as TCP6 and
// TCP4 as their family says.
func TestProxyProtocolClientFromTrustedForwardedFor(t *testing.T) {
	for _, version := range []string{"v1", "v2"} {
		t.Run(version, func(t *testing.T) {
			o := newPPOrigin(t, false, false, false)
			h := ppHarness(t, o, "      proxy_protocol: "+version+"\n", "  trusted_proxies: [127.0.0.1]\n")
			a := ppGet(t, h, map[string]string{"X-Forwarded-For": "203.0.113.7"})
			b := ppGet(t, h, map[string]string{"X-Forwarded-For": "2001:db8::9"})
			mapped := ppGet(t, h, map[string]string{"X-Forwarded-For": "::ffff:198.51.100.3"})
			again := ppGet(t, h, map[string]string{"X-Forwarded-For": "203.0.113.7"})
			if a.Source != "203.0.113.7:0" || b.Source != "[2001:db8::9]:0" || mapped.Source != "198.51.100.3:0" {
				t.Fatalf("sources %s, %s, %s", a.Source, b.Source, mapped.Source)
			}
			// The origin is IPv4: an IPv6 client goes as TCP6 with the
			// origin's address mapped (the reader shows it unmapped).
			if want := "127.0.0.1:" + portOf(o.URL); !b.IPv6 || b.Dest != want || a.IPv6 || mapped.IPv6 {
				t.Errorf("IPv6 client: TCP6 %v destination %s, want %s; IPv4 clients TCP6 %v %v", b.IPv6, b.Dest, want, a.IPv6, mapped.IPv6)
			}
			if a.Conn == b.Conn || a.Conn == mapped.Conn || b.Conn == mapped.Conn {
				t.Errorf("clients shared an origin connection: %s %s %s", a.Conn, b.Conn, mapped.Conn)
			}
			if again.Conn != a.Conn || again.Source != a.Source {
				t.Errorf("a returning client got %+v, want its connection %s", again, a.Conn)
			}
			if conns, no := o.counts(); conns != 3 || no != 0 {
				t.Errorf("origin saw %d connections, %d requests without a header", conns, no)
			}
		})
	}
	// An untrusted peer's claim is ignored.
	o := newPPOrigin(t, false, false, false)
	h := ppHarness(t, o, "      proxy_protocol: v2\n", "")
	s := ppGet(t, h, map[string]string{"X-Forwarded-For": "203.0.113.7"})
	if netip.MustParseAddrPort(s.Source).Addr() != netip.MustParseAddr("127.0.0.1") {
		t.Fatalf("an untrusted peer's X-Forwarded-For became the source: %s", s.Source)
	}
}

// The header goes before TLS: an https origin whose listener reads PROXY
// first handshakes after it; HTTP/2 over TLS and h2c carry it the same
// way, one connection per client address.
func TestProxyProtocolBeforeTLSAndHTTP2(t *testing.T) {
	for _, tc := range []struct {
		name, backend, proto string
		tls, http2, h2c      bool
	}{
		{"https", "      disable_certificate_validation: true\n", "HTTP/1.1", true, false, false},
		{"h2", "      disable_certificate_validation: true\n      http2: true\n", "HTTP/2.0", true, true, false},
		{"h2c", "      http2_prior_knowledge: true\n", "HTTP/2.0", false, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := newPPOrigin(t, tc.tls, tc.http2, tc.h2c)
			h := ppHarness(t, o, tc.backend+"      proxy_protocol: v2\n", "  trusted_proxies: [127.0.0.1]\n")
			a := ppGet(t, h, map[string]string{"X-Forwarded-For": "203.0.113.7"})
			b := ppGet(t, h, map[string]string{"X-Forwarded-For": "203.0.113.8"})
			a2 := ppGet(t, h, map[string]string{"X-Forwarded-For": "203.0.113.7"})
			if a.Proto != tc.proto || a.Source != "203.0.113.7:0" || b.Source != "203.0.113.8:0" || a2.Source != a.Source {
				t.Fatalf("seen %+v, %+v, %+v", a, b, a2)
			}
			if a.Conn == b.Conn || a2.Conn != a.Conn {
				t.Errorf("connections %s %s %s: want one per client address", a.Conn, b.Conn, a2.Conn)
			}
			if conns, no := o.counts(); conns != 2 || no != 0 {
				t.Errorf("origin saw %d connections, %d requests without a header", conns, no)
			}
		})
	}
}

// A websocket (any Upgrade) goes on a connection that carried the header
// of its client.
func TestProxyProtocolUpgrade(t *testing.T) {
	o := newPPOrigin(t, false, false, false)
	h := newHarness(t, gatewayYAML(o.URL, "      proxy_protocol: v1\n",
		"    - path: /x\n      proxy:\n        backend: api\n        websockets: true\n")+"  trusted_proxies: [127.0.0.1]\n")
	c := h.dialRaw(t)
	defer c.Close()
	if _, err := c.Write([]byte("GET /x HTTP/1.1\r\nHost: gw\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nX-Forwarded-For: 192.0.2.44\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	n, _ := c.Read(buf)
	head := string(buf[:n])
	if !strings.HasPrefix(head, "HTTP/1.1 101") || !strings.Contains(head, "X-Source: 192.0.2.44:0") {
		t.Fatalf("answer %q\n%s", head, h.logs.String())
	}
}

// An environment proxy cannot carry the header: the request fails with
// a configuration error instead of sending it to the proxy.
func TestProxyProtocolRefusesEnvironmentProxy(t *testing.T) {
	o := newPPOrigin(t, false, false, false)
	h := ppHarness(t, o, "      proxy_protocol: v2\n", "")
	set := h.gw.backends["api"].transports
	set.proxyFromEnv = func(*http.Request) (*url.URL, error) { return url.Parse("http://127.0.0.1:1") }
	if _, err := set.build(poolKey{transportKey: transportKey{scheme: "http", hostPort: "127.0.0.1:9"}}); err == nil || !strings.Contains(err.Error(), "NO_PROXY") {
		t.Fatalf("build through an environment proxy: %v", err)
	}
}

func TestProxyHeaderFamilies(t *testing.T) {
	origin4 := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}
	origin6 := &net.TCPAddr{IP: net.ParseIP("::1"), Port: 8080}
	for _, tc := range []struct {
		src  string
		dst  net.Addr
		want string
	}{
		{"192.0.2.1:5", origin4, "PROXY TCP4 192.0.2.1 127.0.0.1 5 8080\r\n"},
		{"[::ffff:192.0.2.1]:5", origin4, "PROXY TCP4 192.0.2.1 127.0.0.1 5 8080\r\n"},
		{"[2001:db8::1]:5", origin4, "PROXY TCP6 2001:db8::1 ::ffff:127.0.0.1 5 8080\r\n"},
		{"192.0.2.1:5", origin6, "PROXY TCP6 ::ffff:192.0.2.1 ::1 5 8080\r\n"},
		{"[fe80::1%eth0]:5", origin6, "PROXY TCP6 fe80::1 ::1 5 8080\r\n"},
		{"", origin4, "PROXY UNKNOWN\r\n"},
		{"192.0.2.1:5", &net.UnixAddr{Name: "x", Net: "unix"}, "PROXY UNKNOWN\r\n"},
		{"192.0.2.1:5", (*net.TCPAddr)(nil), "PROXY UNKNOWN\r\n"},
		{"192.0.2.1:5", nil, "PROXY UNKNOWN\r\n"},
	} {
		var src netip.AddrPort
		if tc.src != "" {
			src = netip.MustParseAddrPort(tc.src)
		}
		b, err := proxyHeader(1, src, tc.dst).Format()
		if err != nil || string(b) != tc.want {
			t.Errorf("%s -> %v: %q, %v; want %q", tc.src, tc.dst, b, err, tc.want)
		}
	}
}

func ppCommand(h *proxyproto.Header) string {
	switch {
	case h.Command.IsProxy():
		return "PROXY"
	case h.Command.IsLocal():
		return "LOCAL"
	}
	return "?"
}

// beta_health sends the header too (an origin requiring it refuses a check
// without one), in the form for the proxy's own connections: v2 LOCAL,
// v1 UNKNOWN, which names nobody.
func TestProxyProtocolHealthCheck(t *testing.T) {
	for _, tc := range []struct {
		version string
		want    string
	}{{"v1", `"version":1,"command":"LOCAL"`}, {"v2", `"version":2,"command":"LOCAL"`}} {
		t.Run(tc.version, func(t *testing.T) {
			o := newPPOrigin(t, false, false, false)
			h := ppHarness(t, o, "      proxy_protocol: "+tc.version+"\n      beta_health:\n        interval: 1h\n        failure_threshold: 1\n"+
				"        expected_text: '"+tc.want+"'\n", "")
			e := runHealth(t, h)
			if b := e.Snapshot().Backends[0]; !b.Eligible {
				t.Fatalf("backend %s not eligible: %s", b.ID, b.Deep.LastError)
			}
			if _, no := o.counts(); no != 0 {
				t.Fatalf("%d requests without a header", no)
			}
		})
	}
}

// Hostile X-Forwarded-For from a trusted peer (not an address, control
// bytes, oversized) ends the walk at the last hop known: the header names
// the peer, never the claim, and the request is not refused for it.
func TestProxyProtocolHostileForwardedFor(t *testing.T) {
	o := newPPOrigin(t, false, false, false)
	h := ppHarness(t, o, "      proxy_protocol: v1\n", "  trusted_proxies: [127.0.0.1]\n")
	for _, xff := range []string{"not-an-address", "203.0.113.1\t, ", "203.0.113.1%eth0", strings.Repeat("9", 8000)} {
		s := ppGet(t, h, map[string]string{"X-Forwarded-For": xff})
		if netip.MustParseAddrPort(s.Source).Addr() != netip.MustParseAddr("127.0.0.1") {
			t.Errorf("X-Forwarded-For %.40q: source %s, want the peer", xff, s.Source)
		}
	}
}
