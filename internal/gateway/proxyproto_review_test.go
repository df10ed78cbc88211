package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/pires/go-proxyproto"
)

// ppEchoOrigin answers each request with the source its connection's
// PROXY header named; a request for /hold waits until release is closed.
func ppEchoOrigin(t *testing.T, tlsOn, http2, h2c bool, held chan<- struct{}, release <-chan struct{}) *httptest.Server {
	t.Helper()
	o := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pc, _ := r.Context().Value(ppConnKey{}).(*proxyproto.Conn)
		src := "none"
		if pc != nil && pc.ProxyHeader() != nil {
			if s, _, ok := pc.ProxyHeader().TCPAddrs(); ok {
				src = s.String()
			}
		}
		if r.URL.Path == "/hold" {
			held <- struct{}{}
			<-release
		}
		fmt.Fprint(w, src)
	}))
	startPPServer(t, o, nil, tlsOn, http2, h2c)
	return o
}

var ppReviewKinds = []struct {
	name, backend   string
	tls, http2, h2c bool
}{
	{"h1", "", false, false, false},
	{"https", "      disable_certificate_validation: true\n", true, false, false},
	{"h2", "      disable_certificate_validation: true\n      http2: true\n", true, true, false},
	{"h2c", "      http2_prior_knowledge: true\n", false, false, true},
}

// Many more client addresses than pools, concurrently: every request
// reaches the origin on a connection whose header names its own client,
// while pools are created and evicted under it.
func TestReviewProxyProtocolManyClientsConcurrently(t *testing.T) {
	for _, k := range ppReviewKinds {
		t.Run(k.name, func(t *testing.T) {
			o := ppEchoOrigin(t, k.tls, k.http2, k.h2c, nil, nil)
			h := newHarness(t, gatewayYAML(o.URL, k.backend+"      proxy_protocol: v2\n",
				"    - path: /x\n      proxy:\n        backend: api\n")+"  trusted_proxies: [127.0.0.1]\n")
			const clients, rounds, workers = 3 * maxPoolsPerBackend, 2, 6
			var wg sync.WaitGroup
			errs := make(chan string, clients*rounds)
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := w; i < clients*rounds; i += workers {
						ip := fmt.Sprintf("198.51.%d.%d", (i%clients)/200, (i%clients)%200+1)
						req, _ := http.NewRequest(http.MethodGet, h.srv.URL+"/x", nil)
						req.Header.Set("X-Forwarded-For", ip)
						resp, err := h.client.Do(req)
						if err != nil {
							errs <- err.Error()
							continue
						}
						var b [64]byte
						n, _ := resp.Body.Read(b[:])
						resp.Body.Close()
						if got := string(b[:n]); resp.StatusCode != http.StatusOK || got != ip+":0" {
							errs <- fmt.Sprintf("client %s: status %d, origin saw %q", ip, resp.StatusCode, got)
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for e := range errs {
				t.Error(e)
			}
			set := h.gw.backends["api"].transports
			set.mu.Lock()
			n := len(set.pools)
			set.mu.Unlock()
			if n > maxPoolsPerBackend {
				t.Errorf("%d pools, at most %d", n, maxPoolsPerBackend)
			}
		})
	}
}

// A request in flight whose pool is evicted (more client addresses than
// pools arrive meanwhile) keeps its connection and completes.
func TestReviewProxyProtocolEvictionKeepsRequestInFlight(t *testing.T) {
	for _, k := range ppReviewKinds {
		t.Run(k.name, func(t *testing.T) {
			held, release := make(chan struct{}, 1), make(chan struct{})
			o := ppEchoOrigin(t, k.tls, k.http2, k.h2c, held, release)
			h := newHarness(t, gatewayYAML(o.URL, k.backend+"      proxy_protocol: v1\n",
				"    - path: /**\n      proxy:\n        backend: api\n")+"  trusted_proxies: [127.0.0.1]\n")
			type answer struct {
				status int
				body   string
			}
			done := make(chan answer, 1)
			go func() {
				req, _ := http.NewRequest(http.MethodGet, h.srv.URL+"/hold", nil)
				req.Header.Set("X-Forwarded-For", "192.0.2.1")
				resp, err := h.client.Do(req)
				if err != nil {
					done <- answer{0, err.Error()}
					return
				}
				var b [64]byte
				n, _ := resp.Body.Read(b[:])
				resp.Body.Close()
				done <- answer{resp.StatusCode, string(b[:n])}
			}()
			select {
			case <-held:
			case a := <-done:
				t.Fatalf("the held request did not reach the origin: %d %q", a.status, a.body)
			}
			for i := 0; i < maxPoolsPerBackend+4; i++ {
				ip := fmt.Sprintf("203.0.113.%d", i+1)
				resp, body := h.do(http.MethodGet, "/x", nil, map[string]string{"X-Forwarded-For": ip})
				if resp.StatusCode != http.StatusOK || body != ip+":0" {
					t.Fatalf("client %s: %d %q", ip, resp.StatusCode, body)
				}
			}
			close(release)
			a := <-done
			if a.status != http.StatusOK || a.body != "192.0.2.1:0" {
				t.Fatalf("the held request, its pool evicted: %d %q", a.status, a.body)
			}
			// The client returns: a connection naming it again.
			resp, body := h.do(http.MethodGet, "/x", nil, map[string]string{"X-Forwarded-For": "192.0.2.1"})
			if resp.StatusCode != http.StatusOK || body != "192.0.2.1:0" {
				t.Fatalf("the returning client: %d %q", resp.StatusCode, body)
			}
		})
	}
}

// max_connections caps the open origin connections of a backend, all
// client addresses together: with HTTP/2 (net/http's Transport, one per
// client address) a dial at the limit closes an idle connection of
// another client's pool, as it does for backline's HTTP/1.1 client.
func TestReviewProxyProtocolMaxConnectionsAcrossClientPools(t *testing.T) {
	for _, k := range ppReviewKinds {
		t.Run(k.name, func(t *testing.T) {
			o := ppEchoOrigin(t, k.tls, k.http2, k.h2c, nil, nil)
			h := newHarness(t, gatewayYAML(o.URL, k.backend+"      proxy_protocol: v2\n      max_connections: 2\n",
				"    - path: /x\n      proxy:\n        backend: api\n")+"  trusted_proxies: [127.0.0.1]\n")
			set := h.gw.backends["api"].transports
			for i := 1; i <= 5; i++ {
				ip := fmt.Sprintf("203.0.113.%d", i)
				resp, body := h.do(http.MethodGet, "/x", nil, map[string]string{"X-Forwarded-For": ip})
				if resp.StatusCode != http.StatusOK || body != ip+":0" {
					t.Fatalf("client %s: %d %q", ip, resp.StatusCode, body)
				}
				if open := set.conns.open.Load(); open > 2 {
					t.Fatalf("after client %d: %d origin connections open, max_connections 2", i, open)
				}
			}
		})
	}
}

// writeFailConn connects but cannot write: the PROXY header fails.
type writeFailConn struct{ net.Conn }

func (writeFailConn) Write([]byte) (int, error) { return 0, errors.New("broken pipe (test)") }

// An origin that takes the TCP connect but not the header is a connect
// failure: nothing of the request was sent, so retry_on's default
// (connect_failure) gives even a POST with a body to the next origin,
// whose connection names the client.
func TestReviewProxyProtocolHeaderWriteFailsIsConnectFailure(t *testing.T) {
	broken := ppEchoOrigin(t, false, false, false, nil, nil)
	good := ppEchoOrigin(t, false, false, false, nil, nil)
	brokenAddr := strings.TrimPrefix(broken.URL, "http://")
	var d net.Dialer
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err == nil && addr == brokenAddr {
			return writeFailConn{c}, nil
		}
		return c, err
	}
	h := newHarness(t, originsYAML("      load_balancing: round_robin\n      proxy_protocol: v2\n", broken.URL, good.URL)+
		"  trusted_proxies: [127.0.0.1]\n", func(o *Options) { o.Dial = dial })
	for i := 0; i < 2; i++ { // whichever origin round robin starts at
		resp, body := h.do(http.MethodPost, "/p", strings.NewReader("payload"), map[string]string{"X-Forwarded-For": "192.0.2.9"})
		if resp.StatusCode != http.StatusOK || body != "192.0.2.9:0" {
			t.Fatalf("POST %d: %d %q\n%s", i, resp.StatusCode, body, h.logs.String())
		}
	}
}
