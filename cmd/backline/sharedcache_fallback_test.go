package main

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/backline/backline/internal/auth"
	"github.com/backline/backline/internal/state"
)

func gaugeOrCounter(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if labels[lp.GetName()] != lp.GetValue() {
					continue metrics
				}
			}
			return metricValue(m)
		}
	}
	return 0
}

func metricValue(m *dto.Metric) float64 {
	if m.Gauge != nil {
		return m.Gauge.GetValue()
	}
	return m.Counter.GetValue()
}

// TestSharedAuthCacheRedisOutage: with Redis stopped, logins keep working
// and, after the first, hit this instance's memory instead of the password
// database; the outage is logged once for many logins and exported; no
// password reaches the logs.
func TestSharedAuthCacheRedisOutage(t *testing.T) {
	m := miniredis.RunT(t)
	cfg := sharedCacheConfig(t, m.Addr(), true)
	client, err := state.NewRedisClient(cfg.Storage.Redis)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	reg := prometheus.NewRegistry()
	if _, err := attachRedisBreaker(client, cfg.Storage.Redis, logger, reg); err != nil {
		t.Fatal(err)
	}
	store, err := newAuthCacheStore(cfg, client, logger, reg)
	if err != nil {
		t.Fatal(err)
	}
	d := &daemon{authCache: store}
	mounts, engine, err := extraMounts(cfg, adminEngine(t), passChecker{}, prometheus.NewRegistry(), logger, d.sharedAuthCache(cfg), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(engine.Close)
	mux := http.NewServeMux()
	mounts[0].(*auth.Handler).Register(mux)
	login := func() string {
		r := httptest.NewRequest(http.MethodGet, "/api/v1/auth/nginx", nil)
		for k, v := range map[string]string{"Auth-Method": "plain", "Auth-User": "alice", "Auth-Pass": "Alice-pw-9",
			"Auth-Protocol": "imap", "Auth-Login-Attempt": "1", "Client-IP": "192.0.2.7"} {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		if w.Header().Get("Auth-Status") != "OK" {
			t.Fatalf("login during the outage: %v", w.Header())
		}
		return w.Header().Get("X-Nauthilus-Memory-Cache")
	}
	m.Close()
	if got := login(); got != "Miss" {
		t.Errorf("first login: %s", got)
	}
	for i := range 10 {
		if got := login(); got != "Hit" {
			t.Fatalf("login %d during the outage: %s, want a hit from local memory", i+2, got)
		}
	}
	out := logs.String()
	if n := strings.Count(out, "Redis unreachable"); n != 1 {
		t.Errorf("%d outage log lines for 11 logins, want 1:\n%s", n, out)
	}
	if strings.Contains(out, "Alice-pw-9") {
		t.Error("password in the logs")
	}
	if v := gaugeOrCounter(t, reg, "backline_state_redis_breaker_open", nil); v != 1 {
		t.Errorf("breaker_open = %v", v)
	}
	if v := gaugeOrCounter(t, reg, "backline_auth_cache_local_fallback_total", map[string]string{"op": "get"}); v != 11 {
		t.Errorf("local_fallback_total{op=get} = %v, want 11", v)
	}
	if v := gaugeOrCounter(t, reg, "backline_state_redis_breaker_rejected_total", nil); v < 10 {
		t.Errorf("rejected_total = %v: logins waited for a dead Redis", v)
	}
}
