package gateway

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/state"
	"github.com/backline/backline/internal/testfixture"
)

// BenchmarkThrottle is one throttled request start (two rules, never
// exhausted) counted in memory, on miniredis and on the fixture's real
// Redis; the ratio memory/Redis is the price of sharing (one round trip).
//
//	go test -run '^$' -bench Throttle ./internal/gateway/
func BenchmarkThrottle(b *testing.B) {
	limits := config.RateLimits{
		{Period: time.Second, PerPeriod: 1 << 30, PeriodWindow: config.WindowFixed, Mode: config.ModeBlock},
		// A short sliding period keeps the set small: a start is kept
		// only while it is younger than the period.
		{Period: 10 * time.Millisecond, PerPeriod: 1 << 30, PeriodWindow: "sliding", Mode: config.ModeBlock},
	}
	run := func(b *testing.B, shared *SharedThrottles) {
		th := newThrottle("api", limits, shared, nil)
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if err := th.wait(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("memory", func(b *testing.B) { run(b, nil) })
	b.Run("miniredis", func(b *testing.B) {
		m := miniredis.RunT(b)
		run(b, benchShared(b, m.Addr()))
	})
	b.Run("redis", func(b *testing.B) {
		if os.Getenv(testfixture.EnvVar) == "" {
			b.Skip("no real Redis: set " + testfixture.EnvVar + " (scripts/fixture/start.sh)")
		}
		fx := testfixture.Load(b)
		run(b, benchShared(b, fx.Addr("REDIS")))
	})
}

// BenchmarkThrottledRequest is a whole gateway request (proxied to a local
// origin) on a backend with a block-mode throttle that never runs out,
// counted in memory, on miniredis and on the fixture's real Redis, with
// many requests in flight.
func BenchmarkThrottledRequest(b *testing.B) {
	origin := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	b.Cleanup(origin.Close)
	cfg, err := config.Parse([]byte(gatewayYAML(origin.URL,
		"      throttle:\n        period: 1s\n        per_period: 1000000000\n        period_window: fixed\n        mode: block\n",
		"    - path: /x\n      proxy:\n        backend: api\n")))
	if err != nil {
		b.Fatal(err)
	}
	run := func(b *testing.B, shared *SharedThrottles) {
		gw, err := New(Options{Config: cfg, Throttles: shared, Registerer: prometheus.NewRegistry()})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { gw.Close() })
		h := gw.Handler()
		b.ReportAllocs()
		b.ResetTimer()
		// 16 requests in flight per CPU: Redis round trips overlap, as
		// with real clients.
		b.SetParallelism(16)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
				if rec.Code != http.StatusOK {
					b.Errorf("status %d", rec.Code)
					return
				}
			}
		})
	}
	b.Run("memory", func(b *testing.B) { run(b, nil) })
	b.Run("miniredis", func(b *testing.B) { run(b, benchShared(b, miniredis.RunT(b).Addr())) })
	b.Run("redis", func(b *testing.B) {
		if os.Getenv(testfixture.EnvVar) == "" {
			b.Skip("no real Redis: set " + testfixture.EnvVar + " (scripts/fixture/start.sh)")
		}
		run(b, benchShared(b, testfixture.Load(b).Addr("REDIS")))
	})
}

func benchShared(b *testing.B, addr string) *SharedThrottles {
	c := redis.NewClient(&redis.Options{Addr: addr})
	b.Cleanup(func() { c.Close() })
	s, err := NewSharedThrottles(state.NewRedisRateCounter(c, "bench-"+os.Getenv("USER")+":"), nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	return s
}
