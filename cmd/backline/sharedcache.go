package main

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/state"
)

// newAuthCacheStore is the shared auth cache on storage.redis's client,
// with this process's memory as the fallback while Redis is unreachable
// (docs/scaling.md, "When Redis is unavailable"); nil without
// storage.redis. Whether a generation uses it depends on its
// configuration (sharedAuthCache): a reload may add or drop
// auth.cache.hmac_key_file, but not change storage.redis. reg may be nil.
func newAuthCacheStore(cfg *config.Config, client redis.UniversalClient, logger *slog.Logger, reg prometheus.Registerer) (*state.FallbackAuthCacheStore, error) {
	if client == nil || cfg.Storage.Redis == nil {
		return nil, nil
	}
	if cfg.SharedAuthCache() {
		logger.Info("auth cache shared through Redis", "component", "shared-state", "prefix", cfg.Storage.Redis.Prefix)
	} else if cfg.Auth.Cache.EffectiveTTL() > 0 {
		logger.Warn("auth cache stays per instance: auth.cache.hmac_key_file is not set", "component", "shared-state")
	}
	fallbacks := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "backline_auth_cache_local_fallback_total",
		Help: "Shared auth cache calls served by this instance's memory because Redis failed or its circuit breaker was open, by op (get, set, delete, clear).",
	}, []string{"op"})
	if reg != nil {
		if err := reg.Register(fallbacks); err != nil {
			return nil, err
		}
	}
	local := state.NewMemoryAuthCacheStore(max(cfg.Auth.Cache.EffectiveMaxEntries(), 1), nil)
	s := state.NewFallbackAuthCacheStore(state.NewRedisAuthCacheStore(client, cfg.Storage.Redis.Prefix), local)
	s.OnFallback = func(op string) { fallbacks.WithLabelValues(op).Inc() }
	return s, nil
}

// sharedAuthCache is the store cfg's auth handler uses: the Redis one (with
// its local fallback) when cfg shares the cache, nil (the handler's own
// memory) otherwise.
func (d *daemon) sharedAuthCache(cfg *config.Config) state.AuthCacheStore {
	if d.authCache == nil || !cfg.SharedAuthCache() {
		return nil // a typed nil would look like a store
	}
	return d.authCache
}
