package main

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/state"
)

func breakerConfig(t *testing.T, addr, breaker string) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte("storage:\n  redis:\n    primary:\n      address: " + addr + "\n" + breaker))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// storage.redis.circuit_breaker reaches the breaker, and its outage log
// line names the open periods.
func TestAttachRedisBreakerUsesTheConfig(t *testing.T) {
	m := miniredis.RunT(t)
	cfg := breakerConfig(t, m.Addr(), "    circuit_breaker:\n      consecutive_failures: 2\n      open_time: 250ms\n      max_open_time: 4s\n")
	client, err := state.NewRedisClient(cfg.Storage.Redis)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	logs := &lockedBuffer{}
	b, err := attachRedisBreaker(client, cfg.Storage.Redis, slog.New(slog.NewTextHandler(logs, nil)), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	want := state.RedisBreakerSettings{ConsecutiveFailures: 2, OpenTime: 250 * time.Millisecond, MaxOpenTime: 4 * time.Second}
	if got := b.Settings(); got != want {
		t.Fatalf("settings %+v, want %+v", got, want)
	}
	m.Close()
	ctx := context.Background()
	client.Get(ctx, "k")
	if !b.Up() {
		t.Fatal("opened after one failure with consecutive_failures 2")
	}
	client.Get(ctx, "k")
	if b.Up() {
		t.Fatal("still closed after two failures")
	}
	if !strings.Contains(logs.String(), "open_time=250ms max_open_time=4s") {
		t.Errorf("outage log line without the periods:\n%s", logs)
	}
}

// enabled: false attaches nothing (a dead Redis answers with its own
// errors, never ErrRedisUnavailable) but keeps the metrics, at 0.
func TestAttachRedisBreakerDisabled(t *testing.T) {
	m := miniredis.RunT(t)
	cfg := breakerConfig(t, m.Addr(), "    circuit_breaker:\n      enabled: false\n")
	client, err := state.NewRedisClient(cfg.Storage.Redis)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	reg := prometheus.NewRegistry()
	b, err := attachRedisBreaker(client, cfg.Storage.Redis, slog.New(slog.DiscardHandler), reg)
	if err != nil || b != nil {
		t.Fatalf("disabled: breaker %v, err %v", b, err)
	}
	m.Close()
	for range 3 {
		if err := client.Get(context.Background(), "k").Err(); err == nil || errors.Is(err, state.ErrRedisUnavailable) {
			t.Fatalf("disabled breaker: %v, want the network error", err)
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
		if v := metricValue(mf.GetMetric()[0]); v != 0 {
			t.Errorf("%s = %v while disabled", mf.GetName(), v)
		}
	}
	if len(names) != 3 {
		t.Errorf("metrics %v, want the three breaker metrics", names)
	}
}

// A reload cannot rebuild the Redis client and its breaker: changed
// circuit_breaker settings are refused like any storage.redis change, while
// writing out a default (enabled: true) is no change.
func TestReloadRefusesCircuitBreakerChange(t *testing.T) {
	parse := func(breaker string) *config.Config {
		t.Helper()
		return breakerConfig(t, "127.0.0.1:6379", breaker)
	}
	d := &daemon{opts: daemonOptions{level: new(slog.LevelVar)}}
	if errs := d.restartOnly(parse(""), parse("    circuit_breaker:\n      enabled: true\n")); len(errs) != 0 {
		t.Errorf("enabled: true written out: %q", errs)
	}
	errs := d.restartOnly(parse(""), parse("    circuit_breaker:\n      max_open_time: 30s\n"))
	if len(errs) != 1 || !strings.Contains(errs[0], "storage.redis (line 2): changed") {
		t.Errorf("changed max_open_time: %q", errs)
	}
}
