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
	return newGatewayLogs(cfg, logger, nil, metrics, throttles)
}

// newGatewayLogs is newGateway with the access lines on access
// (gateway.access_log_file); nil logs them with logger, as before.
func newGatewayLogs(cfg *config.Config, logger, access *slog.Logger, metrics *gateway.Metrics, throttles *gateway.SharedThrottles) (*gateway.Gateway, error) {
	if cfg.Gateway.Address == "" {
		return nil, nil
	}
	logger = logger.With("component", "gateway")
	if access != nil {
		// The same line as in the daemon log, component and all.
		access = access.With("component", "gateway")
	}
	return gateway.New(gateway.Options{Config: cfg, Logger: logger, AccessLogger: access, Metrics: metrics, Throttles: throttles})
}
