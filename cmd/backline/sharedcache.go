package main

import (
	"log/slog"

	"github.com/redis/go-redis/v9"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/state"
)

// newAuthCacheStore is the shared auth cache on storage.redis's client;
// nil without storage.redis. Whether a generation uses it depends on its
// configuration (sharedAuthCache): a reload may add or drop
// auth.cache.hmac_key_file, but not change storage.redis.
func newAuthCacheStore(cfg *config.Config, client redis.UniversalClient, logger *slog.Logger) *state.RedisAuthCacheStore {
	if client == nil || cfg.Storage.Redis == nil {
		return nil
	}
	if cfg.SharedAuthCache() {
		logger.Info("auth cache shared through Redis", "component", "shared-state", "prefix", cfg.Storage.Redis.Prefix)
	} else if cfg.Auth.Cache.EffectiveTTL() > 0 {
		logger.Warn("auth cache stays per instance: auth.cache.hmac_key_file is not set", "component", "shared-state")
	}
	return state.NewRedisAuthCacheStore(client, cfg.Storage.Redis.Prefix)
}

// sharedAuthCache is the store cfg's auth handler uses: the Redis one when
// cfg shares the cache, nil (the handler's own memory) otherwise.
func (d *daemon) sharedAuthCache(cfg *config.Config) state.AuthCacheStore {
	if d.authCache == nil || !cfg.SharedAuthCache() {
		return nil // a typed nil would look like a store
	}
	return d.authCache
}
