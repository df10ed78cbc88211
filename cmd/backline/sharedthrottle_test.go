package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/backline/backline/internal/config"
)

// TestSharedThrottlesFromConfig: with storage.redis, two daemons' gateways
// count one backend's throttle together.
func TestSharedThrottlesFromConfig(t *testing.T) {
	m := miniredis.RunT(t)
	origin := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer origin.Close()
	yml := "storage:\n  redis:\n    primary:\n      address: " + m.Addr() + "\n" +
		"definitions:\n  backends:\n    api:\n      origin: " + origin.URL + "\n      throttle:\n        period: 1h\n        per_period: 3\n        mode: block\n" +
		"gateway:\n  address: 127.0.0.1:18999\n  endpoints:\n    - path: /x\n      proxy:\n        backend: api\n"
	cfg, err := config.Parse([]byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	var handlers []http.Handler
	for range 2 {
		s, client, err := setupSharedThrottles(cfg, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
		if err != nil || s == nil {
			t.Fatalf("setup: %v", err)
		}
		defer client.Close()
		gw, err := newGateway(cfg, slog.New(slog.DiscardHandler), nil, s)
		if err != nil {
			t.Fatal(err)
		}
		defer gw.Close()
		handlers = append(handlers, gw.Handler())
	}
	var codes []string
	for i := range 6 {
		rec := httptest.NewRecorder()
		handlers[i%2].ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
		codes = append(codes, http.StatusText(rec.Code))
	}
	if got := strings.Join(codes, ","); got != "OK,OK,OK,Too Many Requests,Too Many Requests,Too Many Requests" {
		t.Fatalf("statuses across two instances: %s", got)
	}
	if s, c, err := setupSharedThrottles(&config.Config{}, slog.Default(), nil); s != nil || c != nil || err != nil {
		t.Errorf("without storage.redis: %v %v %v", s, c, err)
	}
}

// The gateway's rate-limit client has a breaker of its own: once Redis
// failed, the next command fails at once instead of waiting for Redis.
func TestSharedThrottlesClientHasABreaker(t *testing.T) {
	m := miniredis.RunT(t)
	yml := "storage:\n  redis:\n    primary:\n      address: " + m.Addr() + "\n    circuit_breaker:\n      open_time: 1m\n" +
		"definitions:\n  backends:\n    api:\n      origin: http://127.0.0.1:9\n" +
		"gateway:\n  address: 127.0.0.1:18999\n  endpoints:\n    - path: /x\n      proxy:\n        backend: api\n"
	cfg, err := config.Parse([]byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	_, client, err := setupSharedThrottles(cfg, slog.New(slog.DiscardHandler), reg)
	if err != nil || client == nil {
		t.Fatalf("setup: %v", err)
	}
	defer client.Close()
	m.Close()
	ctx := context.Background()
	if err := client.Get(ctx, "k").Err(); err == nil {
		t.Fatal("a command to a closed Redis succeeded")
	}
	if err := client.Get(ctx, "k").Err(); err == nil || !strings.Contains(err.Error(), "circuit breaker") {
		t.Fatalf("second command: %v, want the breaker's fast failure", err)
	}
	if got := gaugeOrCounter(t, reg, "backline_gateway_throttle_redis_breaker_rejected_total", nil); got != 1 {
		t.Errorf("rejected %v, want 1", got)
	}
}
