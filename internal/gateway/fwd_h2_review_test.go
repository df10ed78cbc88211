package gateway

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Concurrent HTTP/2 streams from a trusted proxy on one connection each
// get their own forwarded fields: the view is per request, never shared
// between the streams' goroutines nor kept from one request to the next.
// Run with -race.
func TestForwardedViewPerStreamHTTP2Review(t *testing.T) {
	o := newEcho(t)
	h := newHarness(t, gatewayYAML(o.URL, "", proxyX+"    - path: /r\n      request:\n        backend: api\n")+
		"  trusted_proxies: [127.0.0.1]\n")
	s := httptest.NewUnstartedServer(h.gw)
	s.EnableHTTP2 = true
	s.Config.ErrorLog = log.New(io.Discard, "", 0) // handshakes the client abandons when it reuses one connection
	s.StartTLS()
	defer s.Close()
	client := s.Client()
	defer client.CloseIdleConnections()

	const n = 40
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			path := "/x"
			if i%2 == 1 {
				path = "/r"
			}
			req, _ := http.NewRequest(http.MethodGet, s.URL+path, nil)
			req.Host = "gw.example"
			xff := fmt.Sprintf("203.0.113.%d", i)
			req.Header.Set("X-Forwarded-For", xff)
			wantProto, wantHost := "https", fmt.Sprintf("h%d.example", i)
			switch i % 4 {
			case 0: // one value each: the proxy's word
				req.Header.Set("X-Forwarded-Proto", "http")
				req.Header.Set("X-Forwarded-Host", wantHost)
				wantProto = "http"
			case 1: // lists: read at the client's place, the client's own claim left of it
				req.Header.Set("X-Forwarded-Proto", "https, http")
				req.Header.Set("X-Forwarded-Host", "evil.example, "+wantHost)
				wantProto = "http"
			case 2: // a bad host claim: the request's own Host
				req.Header.Set("X-Forwarded-Host", "a b")
				wantHost = "gw.example"
			case 3: // nothing sent: the gateway's view (TLS)
				wantHost = "gw.example"
			}
			resp, err := client.Do(req)
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.ProtoMajor != 2 || resp.StatusCode != http.StatusOK {
				errs <- fmt.Errorf("%d: %s status %d: %s", i, resp.Proto, resp.StatusCode, body)
				return
			}
			var e echo
			if err := json.Unmarshal(body, &e); err != nil {
				errs <- err
				return
			}
			wantXFF := xff + ", 127.0.0.1"
			if path == "/r" { // a request block's X-Forwarded-For names the peer only (as before the view)
				wantXFF = "127.0.0.1"
			}
			if got := e.Header["X-Forwarded-For"]; len(got) != 1 || got[0] != wantXFF {
				errs <- fmt.Errorf("%d: X-Forwarded-For %q, want %q", i, got, wantXFF)
			}
			if got := e.Header["X-Forwarded-Proto"]; len(got) != 1 || got[0] != wantProto {
				errs <- fmt.Errorf("%d: X-Forwarded-Proto %q, want %q", i, got, wantProto)
			}
			if got := e.Header["X-Forwarded-Host"]; len(got) != 1 || got[0] != wantHost {
				errs <- fmt.Errorf("%d: X-Forwarded-Host %q, want %q", i, got, wantHost)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
