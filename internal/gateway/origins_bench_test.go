package gateway

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
)

// BenchmarkOriginsLayers is a GET through a backend with two origins,
// health and passive health, next to a single-origin backend with health:
// what choosing an origin and reporting its outcome add per request,
// without the network.
func BenchmarkOriginsLayers(b *testing.B) {
	extra := map[string]string{ // balance_hash.go, balance_slowstart.go
		"header_hash": "      hash_key: X-Tenant\n",
		"cookie_hash": "      hash_key: sid\n",
	}
	for _, policy := range []string{"single_origin", "round_robin", "weighted", "least_connections",
		"random", "p2c", "client_ip_hash", "header_hash", "cookie_hash", "uri_hash", "weighted+slow_start"} {
		b.Run(policy, func(b *testing.B) {
			lb := policy
			if p, ok := strings.CutSuffix(policy, "+slow_start"); ok {
				lb, extra[policy] = p, "      slow_start: 1m\n"
			}
			yml := originsYAML("      load_balancing: "+lb+"\n"+extra[policy]+"      beta_health: {}\n      passive_health: {}\n",
				"http://a.test", "http://b.test")
			if policy == "single_origin" { // the baseline: origin, beta_health
				yml = gatewayYAML("http://a.test", "      beta_health: {}\n", "    - path: /**\n      proxy:\n        backend: api\n")
			}
			cfg, err := config.Parse([]byte(yml))
			if err != nil {
				b.Fatal(err)
			}
			gw, err := New(Options{Config: cfg, Registerer: prometheus.NewRegistry()})
			if err != nil {
				b.Fatal(err)
			}
			defer gw.Close()
			e, err := health.New(gw.HealthGroups(), passChecker{}, health.Options{})
			if err != nil {
				b.Fatal(err)
			}
			gw.SetHealth(e)
			ts := gw.backends["api"].transports
			for _, host := range []string{"a.test:80", "b.test:80"} {
				ts.pools[poolKey{transportKey: transportKey{scheme: "http", hostPort: host}}] = fixedTransport{}
			}
			tenant, cookie := []string{"acme"}, []string{"theme=dark; sid=0123456789abcdef"}
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				req := httptest.NewRequest(http.MethodGet, "/x", nil)
				req.Header["X-Tenant"] = tenant
				req.Header["Cookie"] = cookie
				gw.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
			}
		})
	}
}
