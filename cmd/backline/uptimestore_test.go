package main

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/probe"
)

// With storage.redis the engine keeps its uptime history there: it loads
// a backend's history when it starts (junk in its keys is skipped with a
// warning), and saves what it counted when it stops.
func TestSetupUptimeStore(t *testing.T) {
	g := health.Group{Name: health.GroupMail, ConnectInterval: 5 * time.Millisecond, FailureThreshold: 1, RecoveryThreshold: 1, InitialHealthy: true,
		Targets: []*probe.Target{{Name: "mbox03", Protocol: "imap", Host: "127.0.0.1", Port: 143}}}
	e, err := health.New([]health.Group{g}, passChecker{}, health.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := setupUptimeStore(&config.Config{}, e, nil, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	m := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: m.Addr(), MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	cfg := &config.Config{}
	cfg.Storage.Redis = &config.Redis{Prefix: "pfx:"}
	var logs syncBuffer
	if err := setupUptimeStore(cfg, e, c, slog.New(slog.NewTextHandler(&logs, nil))); err != nil {
		t.Fatal(err)
	}
	// Junk where the current hour's minutes go.
	hourKey := "pfx:{uptime:mbox03}:m:" + strconv.FormatInt(time.Now().Unix()/3600, 10)
	m.Set(hourKey, "not a hash")

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.Run(ctx) }()
	deadline := time.Now().Add(30 * time.Second) // a hang guard, not a timing assertion
	for !strings.Contains(logs.String(), "unreadable uptime history in Redis skipped") ||
		e.Snapshot().Backends[0].Uptime.Hour.Checked < 20*time.Millisecond {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("no warning or no uptime counted; logs:\n%s", logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	saved := false
	for _, k := range m.Keys() {
		saved = saved || strings.HasPrefix(k, "pfx:{uptime:mbox03}:h:")
	}
	if !saved {
		t.Fatalf("no hour bucket saved at stop: %q", m.Keys())
	}
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Fatalf("errors logged:\n%s", logs.String())
	}
}
