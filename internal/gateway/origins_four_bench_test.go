package gateway

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
)

// fourOrigins is the gateway of BenchmarkOriginsFour for backend (the
// backend block's extra lines) and the endpoint's use_when_unhealthy, with
// a health engine whose checks pass and every origin's pool a
// fixedTransport.
func fourOrigins(b *testing.B, backend string, useWhenUnhealthy bool) *Gateway {
	yml := originsYAML(backend+"      panic_threshold: 50\n      beta_health: {}\n      passive_health: {}\n",
		"http://a.test", "http://b.test", "http://c.test", backupOrigin("http://d.test"))
	if useWhenUnhealthy {
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
	b.Cleanup(gw.Close)
	e, err := health.New(gw.HealthGroups(), passChecker{}, health.Options{})
	if err != nil {
		b.Fatal(err)
	}
	gw.SetHealth(e)
	ts := gw.backends["api"].transports
	for _, host := range []string{"a.test:80", "b.test:80", "c.test:80", "d.test:80"} {
		ts.pools[poolKey{transportKey: transportKey{scheme: "http", hostPort: host}}] = fixedTransport{}
	}
	return gw
}

var fourOriginsCases = []struct {
	name, backend    string
	useWhenUnhealthy bool
}{
	{"round_robin", "      load_balancing: round_robin\n", false},
	{"weighted+slow_start", "      load_balancing: weighted\n      slow_start: 1m\n", false},
	{"least_connections+use_when_unhealthy", "      load_balancing: least_connections\n", true},
	{"p2c", "      load_balancing: p2c\n", false},
}

// answerLayer stands for sendLayer: an answer without a transport.
type answerLayer struct{}

func (answerLayer) roundTrip(c *call) (*exchange, *gatewayError) {
	c.ex.resp = &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}
	return &c.ex, nil
}

// BenchmarkOriginsGatePick is the part of BenchmarkOriginsFour that
// decides the origin: the origins gate, then balanceLayer's pick, with
// nothing else of the request around them.
func BenchmarkOriginsGatePick(b *testing.B) {
	for _, tc := range fourOriginsCases {
		b.Run(tc.name, func(b *testing.B) {
			gw := fourOrigins(b, tc.backend, tc.useWhenUnhealthy)
			bv := gw.views["api"]
			chain := &originsGateLayer{useWhenUnhealthy: tc.useWhenUnhealthy,
				next: &balanceLayer{set: bv.rt.origins, next: answerLayer{}}}
			up := &upstream{req: httptest.NewRequest(http.MethodGet, "/x", nil)}
			ctx := context.Background()
			c := new(call)
			b.ReportAllocs()
			for b.Loop() {
				*c = call{g: gw, ctx: ctx, bv: bv, up: up}
				ex, gerr := chain.roundTrip(c)
				if gerr != nil {
					b.Fatal(gerr)
				}
				ex.done()
			}
		})
	}
}

// BenchmarkOriginsFour is a GET through a backend with four origins, the
// last a backup, with health, passive health and panic_threshold: what
// judging the origins' eligibility (panic count, tiers, slow start) costs
// per request once the origins are more than a pair, without the network.
func BenchmarkOriginsFour(b *testing.B) {
	for _, tc := range fourOriginsCases {
		b.Run(tc.name, func(b *testing.B) {
			gw := fourOrigins(b, tc.backend, tc.useWhenUnhealthy)
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
