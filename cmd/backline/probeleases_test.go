package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/probe"
)

func leaseKeys(m *miniredis.Miniredis) []string {
	var out []string
	for _, k := range m.Keys() {
		if strings.HasPrefix(k, "pfx:{lease:") && strings.HasSuffix(k, "}:l") {
			out = append(out, k)
		}
	}
	return out
}

// With storage.redis the daemon's engine takes the deep probe lease of
// its backends, says so in backline_probe_leases_shared, and releases the
// leases when it stops; without it, nothing changes.
func TestSetupProbeLeases(t *testing.T) {
	g := health.Group{Name: health.GroupMail, ConnectInterval: time.Hour, FailureThreshold: 1, RecoveryThreshold: 1, InitialHealthy: true,
		Targets: []*probe.Target{{Name: "mbox03", Protocol: "imap", Host: "127.0.0.1", Port: 143, DeepCheck: true}}}
	e, err := health.New([]health.Group{g}, passChecker{}, health.Options{})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	if err := setupProbeLeases(&config.Config{}, e, nil, slog.New(slog.DiscardHandler), reg); err != nil {
		t.Fatal(err)
	}
	if mfs, _ := reg.Gather(); len(mfs) != 0 {
		t.Fatalf("metrics without storage.redis: %d", len(mfs))
	}

	m := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: m.Addr(), MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	cfg := &config.Config{}
	cfg.Storage.Redis = &config.Redis{Prefix: "pfx:"}
	if err := setupProbeLeases(cfg, e, c, slog.New(slog.DiscardHandler), reg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.Run(ctx) }()
	deadline := time.Now().Add(30 * time.Second) // a hang guard, not a timing assertion
	for len(leaseKeys(m)) == 0 || !e.Ready() {
		if time.Now().After(deadline) {
			cancel()
			t.Fatal("no lease taken")
		}
		time.Sleep(10 * time.Millisecond)
	}
	mfs, _ := reg.Gather()
	if len(mfs) != 1 || mfs[0].GetName() != "backline_probe_leases_shared" || mfs[0].GetMetric()[0].GetGauge().GetValue() != 1 {
		t.Fatalf("metrics: %v", mfs)
	}
	cancel()
	<-done
	if keys := leaseKeys(m); len(keys) != 0 {
		t.Fatalf("leases left after stop: %q", keys)
	}
	if len(leaseOwner()) > 200 || leaseOwner() == leaseOwner() {
		t.Fatal("lease owners must be short and unique per process start")
	}
}
