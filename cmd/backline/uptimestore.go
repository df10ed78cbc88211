package main

import (
	"fmt"
	"log/slog"

	"github.com/redis/go-redis/v9"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/state"
)

// setupUptimeStore keeps the engine's uptime history on storage.redis's
// client, so it outlives restarts and every instance shows the same week
// (docs/operations.md, "Uptime"); without storage.redis it stays in
// memory. Call it before the engine runs.
func setupUptimeStore(cfg *config.Config, engine *health.Engine, client redis.UniversalClient, logger *slog.Logger) error {
	if client == nil || cfg.Storage.Redis == nil {
		return nil
	}
	store := state.NewRedisUptimeStore(client, cfg.Storage.Redis.Prefix)
	log := logger.With("component", "shared-state")
	store.OnCorrupt = func(key string, err error) {
		log.Warn("unreadable uptime history in Redis skipped", "key", key, "error", err)
	}
	if err := engine.UseUptimeStore(store); err != nil {
		return fmt.Errorf("uptime history: %w", err)
	}
	return nil
}
