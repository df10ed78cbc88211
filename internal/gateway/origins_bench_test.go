package gateway

import (
	"net/http"
	"net/http/httptest"
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
	for _, policy := range []string{"single_origin", "round_robin", "weighted", "least_connections"} {
		b.Run(policy, func(b *testing.B) {
			yml := originsYAML("      load_balancing: "+policy+"\n      beta_health: {}\n      passive_health: {}\n",
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
				ts.pools[transportKey{scheme: "http", hostPort: host}] = fixedTransport{}
			}
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				gw.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
			}
		})
	}
}
