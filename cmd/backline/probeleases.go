package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/state"
)

// setupProbeLeases shares deep probes through probe leases on
// storage.redis's client (docs/scaling.md, "Probe leases"); nothing
// without storage.redis. Call it before the engine runs.
func setupProbeLeases(cfg *config.Config, engine *health.Engine, client redis.UniversalClient, logger *slog.Logger, reg prometheus.Registerer) error {
	if client == nil || cfg.Storage.Redis == nil {
		return nil
	}
	owner := leaseOwner()
	err := engine.UseLeases(health.LeaseConfig{
		Store:      state.NewRedisLeaseStore(client, cfg.Storage.Redis.Prefix),
		Owner:      owner,
		Registerer: reg,
	})
	if err != nil {
		return fmt.Errorf("probe leases: %w", err)
	}
	logger.Info("deep probes shared through probe leases on Redis", "component", "shared-state", "owner", owner)
	return nil
}

// leaseOwner names this process in leases: host and pid for the operator
// reading Redis, and a random part so a restarted process with the same
// pid is a new owner (it must not inherit a lease it cannot remember).
func leaseOwner() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%.64s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}
