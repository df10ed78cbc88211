package main

import (
	"log/slog"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/gateway"
)

// newGateway compiles the HTTP gateway when gateway.address is set; nil
// means the file configures none. metrics are the daemon's series, shared by
// every configuration generation; nil keeps the gateway's own private ones
// (check).
// throttles, when set, counts backend throttles across instances.
func newGateway(cfg *config.Config, logger *slog.Logger, metrics *gateway.Metrics, throttles *gateway.SharedThrottles) (*gateway.Gateway, error) {
	if cfg.Gateway.Address == "" {
		return nil, nil
	}
	return gateway.New(gateway.Options{Config: cfg, Logger: logger.With("component", "gateway"), Metrics: metrics, Throttles: throttles})
}
