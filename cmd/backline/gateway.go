package main

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/gateway"
)

// newGateway compiles the HTTP gateway when gateway.address is set; nil
// means the file configures none.
func newGateway(cfg *config.Config, logger *slog.Logger, reg prometheus.Registerer) (*gateway.Gateway, error) {
	if cfg.Gateway.Address == "" {
		return nil, nil
	}
	return gateway.New(gateway.Options{Config: cfg, Logger: logger.With("component", "gateway"), Registerer: reg})
}
