package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/state"
)

// TestAffinityStoreFromConfig: with storage.redis the sticky policy's
// affinity lands in that Redis under its prefix; without, in memory.
func TestAffinityStoreFromConfig(t *testing.T) {
	m := miniredis.RunT(t)
	cfg, err := config.Parse([]byte("storage:\n  redis:\n    prefix: \"bl1:\"\n    primary:\n      address: " + m.Addr() + "\nauth:\n  nginx:\n    default_policy: sticky\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, client, err := setupSharedAdmin(cfg, adminEngine(t), slog.New(slog.DiscardHandler), prometheus.NewRegistry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	s := newAffinityStore(cfg, client)
	if err := s.Set(context.Background(), state.AffinityKey{User: "alice", Protocol: "imap"}, "imap-a", time.Minute); err != nil {
		t.Fatal(err)
	}
	if keys := m.Keys(); len(keys) != 1 || !strings.HasPrefix(keys[0], "bl1:affinity:") {
		t.Errorf("keys = %q", keys)
	}
	if _, ok := newAffinityStore(&config.Config{}, nil).(*state.MemoryAffinityStore); !ok {
		t.Error("without storage.redis: not the memory store")
	}
}
