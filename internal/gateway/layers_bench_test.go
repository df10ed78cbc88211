package gateway

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backline/backline/internal/config"
)

// fixedTransport answers every request with a tiny 200 without any I/O, so
// a benchmark through it measures the gateway's own work per request.
type fixedTransport struct{}

func (fixedTransport) roundTrip(_ context.Context, req *http.Request, _ requestLimits) (*http.Response, error) {
	if req.Body != nil {
		_, _ = io.Copy(io.Discard, req.Body)
	}
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/plain"}},
		Body: io.NopCloser(strings.NewReader("ok")), ContentLength: 2}, nil
}
func (fixedTransport) closeIdle()          {}
func (fixedTransport) close()              {}
func (fixedTransport) evictOne() bool      { return false }
func (fixedTransport) lastUsed() time.Time { return time.Now() }

// BenchmarkBackendLayers is the gateway's cost per request without the
// network: routing, modifiers, the backend layers, copying the answer. The
// origin is a fixedTransport placed in the backend's pool.
func BenchmarkBackendLayers(b *testing.B) {
	backend := "      set_request_headers:\n        X-B: b\n      set_response_headers:\n        X-R: r\n      max_connections: 64\n"
	cfg, err := config.Parse([]byte(gatewayYAML("http://origin.test", backend, "    - path: /x\n      proxy:\n        backend: api\n")))
	if err != nil {
		b.Fatal(err)
	}
	gw, err := New(Options{Config: cfg, Registerer: prometheus.NewRegistry()})
	if err != nil {
		b.Fatal(err)
	}
	defer gw.Close()
	ts := gw.backends["api"].transports
	ts.pools[poolKey{transportKey: transportKey{scheme: "http", hostPort: "origin.test:80"}}] = fixedTransport{}
	for _, size := range []int{0, 16 << 10} {
		name := "get"
		if size > 0 {
			name = "post16k"
		}
		payload := bytes.Repeat([]byte("a"), size)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var body io.Reader
				method := http.MethodGet
				if size > 0 {
					method, body = http.MethodPost, bytes.NewReader(payload)
				}
				rec := httptest.NewRecorder()
				gw.ServeHTTP(rec, httptest.NewRequest(method, "/x", body))
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
			}
		})
	}
}

// BenchmarkOAuth2Layer is BenchmarkBackendLayers' GET on a backend with
// oauth2 and a cached token: the cost of the auth layer per request.
func BenchmarkOAuth2Layer(b *testing.B) {
	for _, retries := range []int{0, 1} {
		backend := fmt.Sprintf("      oauth2:\n        grant_type: client_credentials\n        token_endpoint: http://idp.test/t\n        client_id: a\n        client_secret: b\n        retries: %d\n", retries)
		cfg, err := config.Parse([]byte(gatewayYAML("http://origin.test", backend, "    - path: /x\n      proxy:\n        backend: api\n")))
		if err != nil {
			b.Fatal(err)
		}
		gw, err := New(Options{Config: cfg, Registerer: prometheus.NewRegistry()})
		if err != nil {
			b.Fatal(err)
		}
		rt := gw.backends["api"]
		rt.transports.pools[poolKey{transportKey: transportKey{scheme: "http", hostPort: "origin.test:80"}}] = fixedTransport{}
		rt.oauth.cache.value, rt.oauth.cache.expires = "cached-token", time.Now().Add(time.Hour)
		b.Run(fmt.Sprintf("retries%d", retries), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				gw.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
			}
		})
		gw.Close()
	}
}

// BenchmarkProxiedRequest is a whole request to a local origin over one
// kept-alive connection.
func BenchmarkProxiedRequest(b *testing.B) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("hello")) }))
	defer origin.Close()
	cfg, err := config.Parse([]byte(gatewayYAML(origin.URL, "", "    - path: /x\n      proxy:\n        backend: api\n")))
	if err != nil {
		b.Fatal(err)
	}
	gw, err := New(Options{Config: cfg, Registerer: prometheus.NewRegistry()})
	if err != nil {
		b.Fatal(err)
	}
	defer gw.Close()
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		gw.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
	}
}
