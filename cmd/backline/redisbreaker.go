package main

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/state"
)

// attachRedisBreaker puts a circuit breaker on client (storage.redis's
// shared client: auth cache, affinity, admin state, probe leases), so that
// while Redis is dead each caller fails at once and takes its local
// fallback instead of waiting for dial and read timeouts. Transitions are
// logged once each and exported; reg may be nil. With
// storage.redis.circuit_breaker.enabled false it returns nil and attaches
// nothing, but still registers the metrics (they stay 0), so dashboards
// and alerts do not go blank.
func attachRedisBreaker(client redis.UniversalClient, r *config.Redis, logger *slog.Logger, reg prometheus.Registerer) (*state.RedisBreaker, error) {
	open := prometheus.NewGauge(prometheus.GaugeOpts{Name: "backline_state_redis_breaker_open",
		Help: "1 while commands to storage.redis fail fast (circuit breaker open after Redis failed), 0 while they go to Redis."})
	opened := prometheus.NewCounter(prometheus.CounterOpts{Name: "backline_state_redis_breaker_opened_total",
		Help: "Times the storage.redis circuit breaker opened (Redis became unreachable)."})
	rejected := prometheus.NewCounter(prometheus.CounterOpts{Name: "backline_state_redis_breaker_rejected_total",
		Help: "Commands to storage.redis failed at once by the open circuit breaker, without waiting for Redis."})
	if reg != nil {
		for _, c := range []prometheus.Collector{open, opened, rejected} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	log := logger.With("component", "shared-state")
	cb := r.CircuitBreaker
	if !cb.On() {
		log.Info("storage.redis circuit breaker disabled: while Redis is unreachable every command waits for its timeouts")
		return nil, nil
	}
	settings := state.RedisBreakerSettings{ConsecutiveFailures: cb.ConsecutiveFailures, OpenTime: cb.OpenTime, MaxOpenTime: cb.MaxOpenTime}
	b := state.NewRedisBreaker(nil, settings, func(up bool, err error) {
		if up {
			open.Set(0)
			log.Info("Redis answers again: shared state (auth cache, affinity, admin state, leases) back on Redis")
			return
		}
		open.Set(1)
		opened.Inc()
		log.Warn("Redis unreachable: shared state falls back to local memory; commands fail fast, one try per open period",
			"error", err, "open_time", settings.OpenTime.String(), "max_open_time", settings.MaxOpenTime.String())
	}, rejected.Inc)
	b.MinBudget = r.ReadTimeout
	client.AddHook(b)
	return b, nil
}
