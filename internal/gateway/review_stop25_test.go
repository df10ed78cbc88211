package gateway

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/backline/backline/internal/config"
)

// Review of 85aa001 (the upstream copy's values in one [8]string) and
// 8684c4f (sticky cookie after the modifiers, X-Forwarded-* lists).

// Every field of the upstream copy can be appended to (add_request_headers,
// Header.Add) without writing into its neighbour's value or into the
// client's request: the [8]string backing holds several fields' values
// side by side, and the spare slot (X-Forwarded-Host) sits right after
// the last one.
func TestReviewUpstreamCopyAppendsStayInTheirField(t *testing.T) {
	for _, n := range []int{1, 3, 6, 7, 8, 12} { // in the backing, exactly full, past it
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			r := httptest.NewRequest("GET", "http://gw.example/x", nil)
			r.Header = http.Header{}
			for i := range n {
				// One field of two values, to have a multi-value slice too.
				if i == 1 {
					r.Header[fmt.Sprintf("X-F%d", i)] = []string{"v1a", "v1b"}
					continue
				}
				r.Header[fmt.Sprintf("X-F%d", i)] = []string{fmt.Sprintf("v%d", i)}
			}
			client := cloneHeaderDeep(r.Header)
			out := cloneForUpstream(r, &forwardedView{r: r})
			want := cloneHeaderDeep(out.Header)
			for k := range out.Header {
				out.Header.Add(k, "added-"+k)
			}
			for k, vv := range want {
				got := out.Header[k]
				if !slices.Equal(got[:len(vv)], vv) || got[len(vv)] != "added-"+k {
					t.Errorf("%s: %q after Add, want %q then the added value", k, got, vv)
				}
			}
			for k, vv := range client {
				if !slices.Equal(r.Header[k], vv) {
					t.Errorf("client's %s became %q, want %q", k, r.Header[k], vv)
				}
			}
		})
	}
}

func cloneHeaderDeep(h http.Header) http.Header {
	out := http.Header{}
	for k, vv := range h {
		out[k] = slices.Clone(vv)
	}
	return out
}

// The same end to end, with every modifier level adding to the client's
// fields: each origin sees its own additions once, next to the client's
// values, and nothing of them leaks into another field. Under -race with
// concurrent requests, the shared per-request state would show too.
func TestReviewAddRequestHeadersNeighbours(t *testing.T) {
	o := newEcho(t)
	h := newHarness(t, gatewayYAML(o.URL, `      add_request_headers:
        X-A: backend
        X-B: backend
`, `    - path: /x
      add_request_headers:
        X-A: endpoint
      proxy:
        backend: api
        add_request_headers:
          X-B: proxy
          X-C: proxy
`))
	hdr := map[string]string{"X-A": "a", "X-B": "b", "X-C": "c", "X-D": "d"}
	var wg sync.WaitGroup
	var bad atomic.Value
	for range 8 {
		wg.Go(func() {
			for range 10 {
				e := h.echo("/x", hdr)
				for k, want := range map[string][]string{
					"X-A": {"a", "endpoint", "backend"},
					"X-B": {"b", "proxy", "backend"},
					"X-C": {"c", "proxy"},
					"X-D": {"d"},
				} {
					if got := e.Header[k]; !slices.Equal(got, want) {
						bad.Store(fmt.Sprintf("%s: %q, want %q", k, got, want))
					}
				}
			}
		})
	}
	wg.Wait()
	if v := bad.Load(); v != nil {
		t.Error(v)
	}
}

// retryRecorder is an origin that records the forwarding fields of every
// request and answers 503 to the first attempt of each (retry_on: [503]).
type retryRecorder struct {
	mu     sync.Mutex
	seen   []http.Header
	protos []int
}

func (rr *retryRecorder) handler(code int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rr.mu.Lock()
		rr.seen = append(rr.seen, r.Header.Clone())
		rr.protos = append(rr.protos, r.ProtoMajor)
		rr.mu.Unlock()
		w.WriteHeader(code)
	}
}

// A retried request carries the same forwarding fields to the second
// origin as to the first: X-Forwarded-For with the client appended once
// (balanceLayer restores the client's field, sendLayer's backing holds
// the same value), the same request id, and the client's own values.
func TestReviewRetrySendsTheSameForwardingFields(t *testing.T) {
	for _, proto := range []string{"h1", "h2c", "h2"} {
		t.Run(proto, func(t *testing.T) {
			busy, ok := &retryRecorder{}, &retryRecorder{}
			var a, b, extra string
			switch proto {
			case "h2c":
				a, b = h2cOrigin(t, busy.handler(503)), h2cOrigin(t, ok.handler(200))
				extra = "      http2_prior_knowledge: true\n"
			case "h2":
				tlsOrigin := func(h http.HandlerFunc) string {
					s := httptest.NewUnstartedServer(h)
					s.EnableHTTP2 = true
					s.StartTLS()
					t.Cleanup(s.Close)
					return s.URL
				}
				a, b = tlsOrigin(busy.handler(503)), tlsOrigin(ok.handler(200))
				extra = "      http2: true\n      disable_certificate_validation: true\n"
			default:
				sa := httptest.NewServer(busy.handler(503))
				sb := httptest.NewServer(ok.handler(200))
				t.Cleanup(sa.Close)
				t.Cleanup(sb.Close)
				a, b = sa.URL, sb.URL
			}
			h := newHarness(t, originsYAML(extra+"      load_balancing: round_robin\n      retry_on: [503]\n      add_request_headers:\n        X-Forwarded-For: added\n", a, b))
			var wg sync.WaitGroup
			for range 4 {
				wg.Go(func() {
					for range 5 {
						resp, _ := h.do("GET", "/x", nil, map[string]string{"X-Forwarded-For": "198.51.100.9", "X-Keep": "k"})
						if resp.StatusCode != 200 && resp.StatusCode != 503 {
							t.Errorf("status %d", resp.StatusCode)
						}
					}
				})
			}
			wg.Wait()
			all := append(append([]http.Header{}, busy.seen...), ok.seen...)
			wantMajor := 2
			if proto == "h1" {
				wantMajor = 1
			}
			for _, major := range append(append([]int{}, busy.protos...), ok.protos...) {
				if major != wantMajor {
					t.Fatalf("an attempt went over HTTP/%d, want HTTP/%d", major, wantMajor)
				}
			}
			if len(all) == 0 {
				t.Fatal("no request reached an origin")
			}
			ids := map[string]int{}
			for _, hd := range all {
				if got := hd.Values("X-Forwarded-For"); len(got) != 1 || got[0] != "198.51.100.9, added, 127.0.0.1" {
					t.Errorf("X-Forwarded-For %q, want the client's, the modifier's and the peer once", got)
				}
				if got := hd.Values("X-Keep"); len(got) != 1 || got[0] != "k" {
					t.Errorf("X-Keep %q", got)
				}
				ids[hd.Get("Couper-Request-Id")]++
			}
			for id, n := range ids {
				if id == "" || n > 2 {
					t.Errorf("request id %q seen %d times (one request, at most two attempts)", id, n)
				}
			}
		})
	}
}

// The gateway's own 502 (no origin answered) carries no lb cookie: no
// origin served the token, and a client whose request failed gets a new
// one with its next request, as HAProxy inserts its cookie only on a
// server's answer. An origin's own answer after a retry (even a 503 that
// is passed on) carries it.
func TestReviewStickyCookieOnlyOnOriginAnswers(t *testing.T) {
	dead := "http://127.0.0.1:1" // refused
	h := newHarness(t, originsYAML("      load_balancing: cookie_hash\n      retry_on: [connect_failure]\n", dead, dead+"0"))
	resp, _ := h.do("GET", "/x", nil, nil)
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("status %d, want 502", resp.StatusCode)
	}
	if v := resp.Header.Values("Set-Cookie"); len(v) != 0 {
		t.Errorf("the gateway's 502 set %q", v)
	}

	busy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }))
	t.Cleanup(busy.Close)
	// A new client's token picks the dead origin first half the time: 40
	// requests retry at least once but with a chance of 2^-40.
	h2 := newHarness(t, originsYAML("      load_balancing: cookie_hash\n", dead, busy.URL))
	for i := 0; i < 40 && !strings.Contains(h2.logs.String(), "gateway retrying on another origin"); i++ {
		resp, _ = h2.do("GET", "/x", nil, nil)
		if resp.StatusCode != 503 {
			t.Fatalf("status %d, want the origin's 503", resp.StatusCode)
		}
		if v := resp.Header.Values("Set-Cookie"); len(v) != 1 || !strings.HasPrefix(v[0], "lb=") {
			t.Errorf("the origin's answer: Set-Cookie %q, want the lb cookie", v)
		}
	}
	if !strings.Contains(h2.logs.String(), "gateway retrying on another origin") {
		t.Error("no request was retried")
	}
}

// earlyProxy is a forward proxy whose first connection of each pair is
// answered 503 at once, before it reads a byte of the request: net/http's
// Transport (used for a backend with proxy) hands that answer back while
// its writer goroutine may still be writing the request head. A retry
// then rewrites the same header map (X-Forwarded-For, the request id, the
// URL): under -race this shows whether the writer is done with it.
func earlyProxy(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var n atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn, i int64) {
				defer c.Close()
				br := bufio.NewReader(c)
				if i%2 == 0 {
					// The request line only, then the answer; the rest of
					// the request is read and dropped.
					if _, err := br.ReadString('\n'); err != nil {
						return
					}
					_, _ = io.WriteString(c, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbusy")
					_ = c.SetReadDeadline(time.Now().Add(time.Second))
					_, _ = io.Copy(io.Discard, br)
					return
				}
				req, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				_, _ = io.Copy(io.Discard, req.Body)
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
			}(c, n.Add(1)-1)
		}
	}()
	return "http://" + ln.Addr().String()
}

func TestReviewRetryAfterEarlyProxyAnswerRace(t *testing.T) {
	proxy := earlyProxy(t)
	h := newHarness(t, originsYAML("      proxy: "+proxy+"\n      load_balancing: round_robin\n      retry_on: [503]\n      disable_connection_reuse: true\n",
		"http://origin-a.example:8080", "http://origin-b.example:8080"))
	big := strings.Repeat("x", 30000)
	for range 20 {
		resp, _ := h.do("GET", "/x", nil, map[string]string{"X-Forwarded-For": "198.51.100.9", "X-Big": big})
		if resp.StatusCode != 200 && resp.StatusCode != 503 {
			t.Fatalf("status %d: %s", resp.StatusCode, h.logs.String())
		}
	}
	if !strings.Contains(h.logs.String(), "gateway retrying on another origin") {
		t.Error("no request was retried: the test tests nothing")
	}
}

// Whatever a client writes into X-Forwarded-For and X-Forwarded-Proto
// (empty lines, commas only, addresses of trusted proxies, huge lists,
// duplicated lines), a chain of trusted proxies that append what they saw
// decides: the client is the address the first proxy appended, and the
// scheme and the host are the ones that proxy appended. Three ways of appending: a new
// line (HAProxy's add-header, option forwardfor), to the joined lines
// (nginx's $proxy_add_x_forwarded_for, Envoy), and to the last line only.
func FuzzReviewForwardedClientClaims(f *testing.F) {
	for _, seed := range []struct {
		xff, proto string
		hops       uint8
	}{
		{"", "", 0},
		{",,,", ",,,", 1},
		{"10.0.0.7, 10.0.0.8", "https, https", 2},
		{"10.0.0.7\n10.0.0.8\n", "https\nhttps\n", 3},
		{"\n\n", "\n\n", 1},
		{"203.0.113.1, ", "https, ", 1},
		{strings.Repeat("10.0.0.9,", 100), strings.Repeat("https,", 100), 4},
		{"[fe80::1%eth0]:80, ::ffff:10.0.0.2", "HTTPS", 2},
	} {
		f.Add(seed.xff, seed.proto, seed.hops)
	}
	trusted := trustedProxies{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fe80::/10")}
	client := "203.0.113.50"
	f.Fuzz(func(t *testing.T, xff, proto string, hops uint8) {
		// The client's lines: one per "\n"-separated part (a header value
		// cannot hold CR, LF or NUL).
		lines := func(s string) []string {
			var out []string
			for l := range strings.SplitSeq(s, "\n") {
				if strings.ContainsAny(l, "\r\x00") {
					t.Skip()
				}
				out = append(out, l)
			}
			if s == "" {
				return nil
			}
			return out
		}
		n := int(hops%4) + 1 // trusted proxies between client and gateway
		for style := range 3 {
			h := http.Header{}
			h["X-Forwarded-For"] = lines(xff)
			h["X-Forwarded-Proto"] = lines(proto)
			h["X-Forwarded-Host"] = lines(proto) // the client's host claims
			appendTo := func(name, v string) {
				old := h[name]
				switch {
				case len(old) == 0:
					h[name] = []string{v}
				case style == 0:
					h[name] = append(slices.Clone(old), v)
				case style == 1:
					h[name] = []string{strings.Join(old, ", ") + ", " + v}
				default:
					c := slices.Clone(old)
					c[len(c)-1] += ", " + v
					h[name] = c
				}
			}
			// Proxy i appends the address it got the request from and the
			// scheme of that hop: the client's (http), then proxy to proxy
			// (https).
			from := client
			for i := range n {
				appendTo("X-Forwarded-For", from)
				scheme := "https"
				if i == 0 {
					scheme = "http"
				}
				appendTo("X-Forwarded-Proto", scheme)
				appendTo("X-Forwarded-Host", fmt.Sprintf("hop%d.example", i))
				from = fmt.Sprintf("10.0.0.%d", i+1)
			}
			r := &http.Request{RemoteAddr: from + ":4000", Host: "gw.example", Header: h}
			got, ok := clientAddr(r, trusted)
			if !ok || got != netip.MustParseAddr(client) {
				t.Fatalf("style %d, %d proxies, XFF %q: client %v, want %s", style, n, h["X-Forwarded-For"], got, client)
			}
			if p := trustedProto(r, trusted); len(p) != 1 || p[0] != "http" {
				t.Fatalf("style %d, %d proxies, XFF %q, proto %q: scheme %q, want the first proxy's http", style, n, h["X-Forwarded-For"], h["X-Forwarded-Proto"], p)
			}
			if _, host := forwardedOf(r, trusted); host != "hop0.example" {
				t.Fatalf("style %d, %d proxies, XFF %q, host %q: %q, want the first proxy's hop0.example", style, n, h["X-Forwarded-For"], h["X-Forwarded-Host"], host)
			}
		}
	})
}

// Bug: one trust rule judges a peer with an IPv4-mapped address as IPv4,
// and a trusted_proxies address written IPv4-mapped (::ffff:10.0.0.1) was
// unmapped to match, but a prefix written that way (::ffff:10.0.0.0/104,
// as a dual-stack listener's logs show the peers) stayed an IPv6 prefix
// that no peer, mapped or not, was ever judged against: the proxy was
// silently untrusted and its X-Forwarded-Proto replaced.
func TestReviewTrustedProxyMappedPrefix(t *testing.T) {
	cfg := config.Gateway{TrustedProxies: []string{"::ffff:10.0.0.0/104", "::ffff:192.0.2.7/128"}}
	trusted := trustedProxies(cfg.TrustedProxyPrefixes())
	for peer, want := range map[string]bool{
		"10.0.0.1:4000":           true,
		"[::ffff:10.9.9.9]:4000":  true,
		"192.0.2.7:4000":          true,
		"[::ffff:192.0.2.7]:4000": true,
		"11.0.0.1:4000":           false,
		"192.0.2.8:4000":          false,
		"[::a00:1]:4000":          false, // ::10.0.0.1, IPv4-compatible, not mapped
		"[2001:db8::a00:1]:4000":  false,
	} {
		if got := trusted.contains(peer); got != want {
			t.Errorf("%s: trusted %v, want %v (prefixes %v)", peer, got, want, trusted)
		}
	}
}

// FollowHealth ends with its context and leaves nothing behind, however
// many changes came (the daemon starts one per run, not per reload), and
// a feed whose changes never stop does not keep it alive.
func TestReviewFollowHealthEndsWithItsContext(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	m, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(Options{Config: parseConfig(t, originsYAML("      beta_health:\n        interval: 1h\n      panic_threshold: 50\n", "http://127.0.0.1:4001", "http://127.0.0.1:4002")), Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	feed := &feedHealth{ch: make(chan struct{}, 1)}
	group := g.HealthGroups()[0]
	feed.set(group, []bool{true, true}, nil)
	g.SetHealth(feed)
	g.Activate()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); m.FollowHealth(ctx, feed) }()
	for i := range 200 {
		feed.set(group, []bool{i%2 == 0, false}, nil)
		select {
		case feed.ch <- struct{}{}:
		default:
		}
	}
	cancel()
	<-done
}

// Bug: X-Forwarded-Proto lists from a trusted proxy are read by position
// (a client's own claim left of what the proxies appended cannot make it
// https), but X-Forwarded-Host took the first line or element: behind a
// first proxy that appends (HAProxy's add-header, one line per hop; an
// Envoy-style ", " append), a client writing X-Forwarded-Host: evil.example
// had its claim passed on as the only value and the proxy's dropped, so
// an origin built its links (a password reset mail) on the client's host.
// The host is now read where the scheme is; a single value stays the
// proxy's word.
func TestReviewForwardedHostReadWhereProtoIs(t *testing.T) {
	trusted := trustedProxies{netip.MustParsePrefix("10.0.0.0/8")}
	for _, tc := range []struct {
		name       string
		xff        []string
		host       []string
		want       string
		wantScheme string
	}{
		{"appended line, no X-Forwarded-For", nil, []string{"evil.example", "shop.example"}, "shop.example", "http"},
		{"appended line", []string{"203.0.113.9"}, []string{"evil.example", "shop.example"}, "shop.example", "http"},
		{"appended element", []string{"203.0.113.9"}, []string{"evil.example, shop.example"}, "shop.example", "http"},
		{"two hops", []string{"203.0.113.9, 10.0.0.2"}, []string{"evil.example, shop.example, inner.example"}, "shop.example", "http"},
		{"single value: the proxy's word", []string{"203.0.113.9"}, []string{"shop.example"}, "shop.example", "http"},
		{"empty element appended: the gateway's own", []string{"203.0.113.9"}, []string{"evil.example", ""}, "gw.example", "http"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: "10.0.0.1:4000", Host: "gw.example", Header: http.Header{}}
			if tc.xff != nil {
				r.Header["X-Forwarded-For"] = tc.xff
			}
			r.Header["X-Forwarded-Host"] = tc.host
			// The scheme list has the same shape: the client's claim, then
			// what each proxy appended (the first saw http).
			r.Header["X-Forwarded-Proto"] = []string{"https", "http"}
			if tc.name == "two hops" {
				r.Header["X-Forwarded-Proto"] = []string{"https, http, https"}
			}
			h := r.Header.Clone()
			setForwardedProtoHost(h, r, nil, trusted)
			if got := h["X-Forwarded-Host"]; len(got) != 1 || got[0] != tc.want {
				t.Errorf("proxied X-Forwarded-Host %q, want %q", got, tc.want)
			}
			if got := h.Get("X-Forwarded-Proto"); got != tc.wantScheme {
				t.Errorf("proxied X-Forwarded-Proto %q, want %q", got, tc.wantScheme)
			}
			if _, host := forwardedOf(r, trusted); host != tc.want {
				t.Errorf("request-block X-Forwarded-Host %q, want %q", host, tc.want)
			}
		})
	}
}

// An oauth2 401 sends the request again (from the copy authLayer kept
// before the first send) through the balancing layer: the second send
// carries X-Forwarded-For with the client appended once, the same
// request id, and the fresh token, with and without origins.
func TestReviewOAuthResendKeepsForwardingFields(t *testing.T) {
	for _, withOrigins := range []bool{false, true} {
		t.Run(fmt.Sprint("origins ", withOrigins), func(t *testing.T) {
			idp := newFakeServer(t, tokenJSON(`,"expires_in":3600`))
			o1 := newFakeServer(t, bearerOrigin("tok1"))
			o2 := newFakeServer(t, bearerOrigin("tok1"))
			oauth := fmt.Sprintf("      oauth2:\n        grant_type: client_credentials\n        token_endpoint: %s/t\n        client_id: a\n        client_secret: b\n        retries: 1\n", idp.URL)
			yml := gatewayYAML(o1.URL, oauth, oauthEndpoint)
			if withOrigins {
				yml = originsYAML("      load_balancing: round_robin\n"+oauth, o1.URL, o2.URL)
			}
			h := newHarness(t, yml)
			resp, body := h.do(http.MethodGet, "/x", nil, map[string]string{"X-Forwarded-For": "198.51.100.9"})
			if resp.StatusCode != 200 || body != "auth=Bearer tok2 body=" {
				t.Fatalf("status %d body %q logs %s", resp.StatusCode, body, h.logs)
			}
			seen := append(o1.requests(), o2.requests()...)
			if len(seen) != 2 {
				t.Fatalf("%d sends, want the first and the one after the 401", len(seen))
			}
			for i, r := range seen {
				if got := r.Header.Values("X-Forwarded-For"); len(got) != 1 || got[0] != "198.51.100.9, 127.0.0.1" {
					t.Errorf("send %d: X-Forwarded-For %q", i, got)
				}
			}
			if a, b := seen[0].Header.Get("Couper-Request-Id"), seen[1].Header.Get("Couper-Request-Id"); a == "" || a != b {
				t.Errorf("request ids %q and %q, want one", a, b)
			}
		})
	}
}

// A websocket upgrade retried past a dead origin (connect_failure) gets
// the lb cookie on the 101 of the origin that took it. Each new client's
// token picks the dead origin first half the time: 40 upgrades retry at
// least once but with a chance of 2^-40.
func TestReviewStickyCookieOnRetriedUpgrade(t *testing.T) {
	_, srv := newWSOrigin(t)
	h := newHarness(t, `definitions:
  backends:
    ws:
      origins: [http://127.0.0.1:1, `+srv.URL+`]
      load_balancing: cookie_hash
gateway:
  address: 127.0.0.1:18999
  endpoints:
    - path: /chat/**
      proxy:
        backend: ws
        websockets: true
`)
	for i := 0; i < 40 && !strings.Contains(h.logs.String(), "gateway retrying on another origin"); i++ {
		conn, _, resp := wsDial(t, h, "/chat/x", "websocket", nil)
		conn.Close()
		if resp.StatusCode != 101 {
			t.Fatalf("upgrade %d: answer %d: %s", i, resp.StatusCode, h.logs.String())
		}
		got := resp.Header.Values("Set-Cookie")
		if len(got) != 1 || !strings.HasPrefix(got[0], "lb=") {
			t.Fatalf("upgrade %d: Set-Cookie on the 101 %q, want the gateway's lb", i, got)
		}
	}
	if !strings.Contains(h.logs.String(), "gateway retrying on another origin") {
		t.Error("no upgrade was retried")
	}
}
