package main

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/gateway"
	"github.com/backline/backline/internal/state"
)

// setupSharedThrottles counts the gateway's throttles on storage.redis; nil
// without storage.redis or without gateway.address. The throttles get a
// client (a pool) of their own, so a request never waits behind the
// admin sync's commands. The caller closes the client. A reload cannot
// change storage.redis, so the counter lives as long as the daemon.
func setupSharedThrottles(cfg *config.Config, logger *slog.Logger, reg prometheus.Registerer) (*gateway.SharedThrottles, redis.UniversalClient, error) {
	r := cfg.Storage.Redis
	if r == nil || cfg.Gateway.Address == "" {
		return nil, nil, nil
	}
	client, err := state.NewRedisClient(r)
	if err != nil {
		return nil, nil, err
	}
	// Its own breaker, with storage.redis.circuit_breaker's settings: a
	// hung Redis costs one try per open period, not every request's
	// read_timeout; the throttles count locally meanwhile.
	if _, err := attachRedisBreakerAt(throttleBreaker, client, r, logger, reg); err != nil {
		client.Close()
		return nil, nil, err
	}
	s, err := gateway.NewSharedThrottles(state.NewRedisRateCounter(client, r.Prefix),
		logger.With("component", "gateway-throttle"), reg)
	if err != nil {
		client.Close()
		return nil, nil, err
	}
	return s, client, nil
}
