package gateway

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/pires/go-proxyproto"
)

// closeWatchOrigin is ppEchoOrigin's answer with a record of which of its
// connections have closed, and which one carried the held request.
type closeWatchOrigin struct {
	*httptest.Server
	mu       sync.Mutex
	closed   map[net.Conn]bool
	heldConn net.Conn
}

func newCloseWatchOrigin(t *testing.T, tlsOn, http2, h2c bool, held chan<- struct{}, release <-chan struct{}) *closeWatchOrigin {
	t.Helper()
	w := &closeWatchOrigin{closed: map[net.Conn]bool{}}
	o := httptest.NewUnstartedServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		pc, _ := r.Context().Value(ppConnKey{}).(*proxyproto.Conn)
		src := "none"
		if pc != nil && pc.ProxyHeader() != nil {
			if s, _, ok := pc.ProxyHeader().TCPAddrs(); ok {
				src = s.String()
			}
		}
		if r.URL.Path == "/hold" {
			w.mu.Lock()
			w.heldConn = pc
			w.mu.Unlock()
			held <- struct{}{}
			<-release
		}
		fmt.Fprint(rw, src)
	}))
	o.Config.ConnState = func(c net.Conn, state http.ConnState) {
		if state != http.StateClosed {
			return
		}
		if tc, ok := c.(*tls.Conn); ok {
			c = tc.NetConn()
		}
		w.mu.Lock()
		w.closed[c] = true
		w.mu.Unlock()
	}
	startPPServer(t, o, nil, tlsOn, http2, h2c)
	w.Server = o
	return w
}

func (w *closeWatchOrigin) heldConnClosed() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.heldConn != nil && w.closed[w.heldConn]
}

// A pool evicted while a request is in flight on it (more client
// addresses than pools arrive meanwhile) closes that connection once the
// request is done, as backline's HTTP/1.1 pool does: nothing can reuse it,
// and until closed it would count toward max_connections for the whole
// idle timeout. Matters for net/http's Transport (HTTP/2, h2c), whose
// CloseIdleConnections spares connections busy at the time.
func TestReviewEvictedPoolClosesConnectionAfterRequestInFlight(t *testing.T) {
	for _, k := range ppReviewKinds {
		t.Run(k.name, func(t *testing.T) {
			held, release := make(chan struct{}, 1), make(chan struct{})
			o := newCloseWatchOrigin(t, k.tls, k.http2, k.h2c, held, release)
			h := newHarness(t, gatewayYAML(o.URL, k.backend+"      proxy_protocol: v1\n      max_connections: 200\n",
				"    - path: /**\n      proxy:\n        backend: api\n")+"  trusted_proxies: [127.0.0.1]\n")
			set := h.gw.backends["api"].transports
			done := make(chan string, 1)
			go func() {
				req, _ := http.NewRequest(http.MethodGet, h.srv.URL+"/hold", nil)
				req.Header.Set("X-Forwarded-For", "192.0.2.1")
				resp, err := h.client.Do(req)
				if err != nil {
					done <- err.Error()
					return
				}
				var b [64]byte
				n, _ := resp.Body.Read(b[:])
				resp.Body.Close()
				done <- fmt.Sprintf("%d %s", resp.StatusCode, b[:n])
			}()
			select {
			case <-held:
			case a := <-done:
				t.Fatalf("the held request did not reach the origin: %s", a)
			}
			for i := 0; i < maxPoolsPerBackend+4; i++ {
				ip := fmt.Sprintf("203.0.113.%d", i+1)
				resp, body := h.do(http.MethodGet, "/x", nil, map[string]string{"X-Forwarded-For": ip})
				if resp.StatusCode != http.StatusOK || body != ip+":0" {
					t.Fatalf("client %s: %d %q", ip, resp.StatusCode, body)
				}
			}
			close(release)
			if a := <-done; a != "200 192.0.2.1:0" {
				t.Fatalf("the held request, its pool evicted: %s", a)
			}
			// Far below the 60 s idle timeout; the bound only keeps a
			// broken build from hanging.
			deadline := time.Now().Add(20 * time.Second)
			for !o.heldConnClosed() || set.conns.open.Load() > maxPoolsPerBackend {
				if time.Now().After(deadline) {
					t.Fatalf("held connection closed at the origin: %v; %d origin connections counted, %d pools",
						o.heldConnClosed(), set.conns.open.Load(), maxPoolsPerBackend)
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}
