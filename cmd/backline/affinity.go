package main

import (
	"github.com/redis/go-redis/v9"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/state"
)

// newAffinityStore is the store of the sticky policy's user affinity: on
// storage.redis's client (shared by every instance on it) when there is
// one, else in memory. The daemon keeps it across reloads (a reload
// refuses a storage.redis change), so a reload keeps users where they are.
func newAffinityStore(cfg *config.Config, client redis.UniversalClient) state.AffinityStore {
	if client != nil && cfg.Storage.Redis != nil {
		return state.NewRedisAffinityStore(client, cfg.Storage.Redis.Prefix)
	}
	return state.NewMemoryAffinityStore(0, nil)
}
