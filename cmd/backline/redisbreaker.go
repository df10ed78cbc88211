package main

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/state"
)

// breakerSite names one Redis client's breaker in its metrics and logs.
type breakerSite struct {
	// The metric names, written out whole (scripts/test-deploy finds the
	// exported names by their literals).
	openName, openedName, rejectedName string
	what                               string // the client, for help texts
	component                          string
	down, up                           string // log lines
}

// stateBreaker is storage.redis's shared client: auth cache, affinity,
// admin state, probe leases.
var stateBreaker = breakerSite{
	openName: "backline_state_redis_breaker_open", openedName: "backline_state_redis_breaker_opened_total",
	rejectedName: "backline_state_redis_breaker_rejected_total", what: "storage.redis", component: "shared-state",
	down: "Redis unreachable: shared state falls back to local memory; commands fail fast, one try per open period",
	up:   "Redis answers again: shared state (auth cache, affinity, admin state, leases) back on Redis",
}

// throttleBreaker is the gateway's rate-limit client (a pool of its own,
// sharedthrottle.go): without it, once its own one-second back-off ended,
// every concurrent request tried a hung Redis and waited out read_timeout.
var throttleBreaker = breakerSite{
	openName: "backline_gateway_throttle_redis_breaker_open", openedName: "backline_gateway_throttle_redis_breaker_opened_total",
	rejectedName: "backline_gateway_throttle_redis_breaker_rejected_total", what: "the gateway's rate-limit Redis client",
	component: "gateway-throttle",
	down:      "Redis unreachable: gateway throttles count locally; commands fail fast, one try per open period",
	up:        "Redis answers again: gateway throttles count on Redis",
}

// attachRedisBreaker puts stateBreaker on client; see attachRedisBreakerAt.
func attachRedisBreaker(client redis.UniversalClient, r *config.Redis, logger *slog.Logger, reg prometheus.Registerer) (*state.RedisBreaker, error) {
	return attachRedisBreakerAt(stateBreaker, client, r, logger, reg)
}

// attachRedisBreakerAt puts a circuit breaker on client, so that
// while Redis is dead each caller fails at once and takes its local
// fallback instead of waiting for dial and read timeouts. Transitions are
// logged once each and exported; reg may be nil. With
// storage.redis.circuit_breaker.enabled false it returns nil and attaches
// nothing, but still registers the metrics (they stay 0), so dashboards
// and alerts do not go blank.
func attachRedisBreakerAt(site breakerSite, client redis.UniversalClient, r *config.Redis, logger *slog.Logger, reg prometheus.Registerer) (*state.RedisBreaker, error) {
	open := prometheus.NewGauge(prometheus.GaugeOpts{Name: site.openName,
		Help: "1 while commands of " + site.what + " fail fast (circuit breaker open after Redis failed), 0 while they go to Redis."})
	opened := prometheus.NewCounter(prometheus.CounterOpts{Name: site.openedName,
		Help: "Times the circuit breaker of " + site.what + " opened (Redis became unreachable)."})
	rejected := prometheus.NewCounter(prometheus.CounterOpts{Name: site.rejectedName,
		Help: "Commands of " + site.what + " failed at once by the open circuit breaker, without waiting for Redis."})
	if reg != nil {
		for _, c := range []prometheus.Collector{open, opened, rejected} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	log := logger.With("component", site.component)
	cb := r.CircuitBreaker
	if !cb.On() {
		log.Info("storage.redis circuit breaker disabled: while Redis is unreachable every command waits for its timeouts")
		return nil, nil
	}
	settings := state.RedisBreakerSettings{ConsecutiveFailures: cb.ConsecutiveFailures, OpenTime: cb.OpenTime, MaxOpenTime: cb.MaxOpenTime}
	b := state.NewRedisBreaker(nil, settings, func(up bool, err error) {
		if up {
			open.Set(0)
			log.Info(site.up)
			return
		}
		open.Set(1)
		opened.Inc()
		log.Warn(site.down, "error", err, "open_time", settings.OpenTime.String(), "max_open_time", settings.MaxOpenTime.String())
	}, rejected.Inc)
	b.MinBudget = r.ReadTimeout
	client.AddHook(b)
	return b, nil
}
