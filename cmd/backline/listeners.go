package main

import (
	"log/slog"
	"net"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/connlimit"
)

// connectionCaps are the effective max_connections of both listeners: the
// configured value, or one derived from the descriptor limit.
type connectionCaps struct {
	api, gateway int
	fileLimit    uint64
}

func resolveConnectionCaps(cfg *config.Config) connectionCaps {
	c := connectionCaps{fileLimit: connlimit.FileLimit()}
	c.api = cfg.Server.MaxConnections
	if c.api == 0 {
		c.api = connlimit.DefaultMax(c.fileLimit)
	}
	c.gateway = cfg.Gateway.MaxConnections
	if c.gateway == 0 {
		c.gateway = connlimit.DefaultMax(c.fileLimit)
	}
	return c
}

// report logs the caps once at start, and warns when caps set by hand can
// use up the descriptors the probes need.
func (c connectionCaps) report(logger *slog.Logger, gateway bool) {
	gatewayMax := 0
	if gateway {
		gatewayMax = c.gateway
	}
	logger.Info("connection limits", "file_descriptor_limit", c.fileLimit,
		"server_max_connections", c.api, "gateway_max_connections", gatewayMax)
	if connlimit.Overcommitted(c.api, gatewayMax, c.fileLimit) {
		logger.Warn("server.max_connections and gateway.max_connections (counted twice, for the origin side) "+
			"can use up the file descriptor limit; probes would then fail. Raise LimitNOFILE= or lower them",
			"file_descriptor_limit", c.fileLimit, "reserved", connlimit.ReservedFiles)
	}
}

// limitListener caps ln and registers its metrics.
func limitListener(name string, ln net.Listener, max int, logger *slog.Logger, reg prometheus.Registerer) net.Listener {
	l := connlimit.Wrap(ln, connlimit.Options{Name: name, MaxConnections: max, Logger: logger})
	for _, c := range l.Collectors() {
		reg.MustRegister(c)
	}
	return l
}
