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

// BenchmarkOriginsFour is a GET through a backend with four origins, the
// last a backup, with health, passive health and panic_threshold: what
// judging the origins' eligibility (panic count, tiers, slow start) costs
// per request once the origins are more than a pair, without the network.
func BenchmarkOriginsFour(b *testing.B) {
	for _, tc := range []struct{ name, backend string }{
		{"round_robin", "      load_balancing: round_robin\n"},
		{"weighted+slow_start", "      load_balancing: weighted\n      slow_start: 1m\n"},
		{"least_connections+use_when_unhealthy", "      load_balancing: least_connections\n"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			yml := originsYAML(tc.backend+"      panic_threshold: 50\n      beta_health: {}\n      passive_health: {}\n",
				"http://a.test", "http://b.test", "http://c.test", backupOrigin("http://d.test"))
			if tc.name == "least_connections+use_when_unhealthy" {
				yml = strings.Replace(yml, "        backend: api\n", "        backend:\n          label: api\n          use_when_unhealthy: true\n", 1)
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
			for _, host := range []string{"a.test:80", "b.test:80", "c.test:80", "d.test:80"} {
				ts.pools[transportKey{scheme: "http", hostPort: host}] = fixedTransport{}
			}
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				req := httptest.NewRequest(http.MethodGet, "/x", nil)
				gw.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
			}
		})
	}
}
