package main

import (
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backline/backline/internal/auth"
	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/lua"
	"github.com/backline/backline/internal/probe"
	"github.com/backline/backline/internal/server"
	"github.com/backline/backline/internal/state"
)

// extraMounts builds the routes other packages add to the HTTP server: the
// nginx/Dovecot auth endpoints (/api/v1/auth/...), backed by the Lua filters.
// They read the same snapshots and use the same checker as the daemon. The
// caller closes the returned Lua engine once no request runs on it; its
// metrics are the caller's to publish (a reload builds one per
// configuration). The auth metrics go to reg, adopted when already there.
// sharedCache, when not nil, holds the positive auth cache (storage.redis).
// host is what the Lua modules keep across reloads (lua.Host).
func extraMounts(cfg *config.Config, snapshots health.Source, checker probe.Checker,
	reg prometheus.Registerer, logger *slog.Logger, sharedCache state.AuthCacheStore,
	affinity state.AffinityStore, host *lua.Host) (mounts []server.Mount, engine *lua.Engine, err error) {
	hc := cfg.Auth.Services.BackendHealthChecks
	engine, err = lua.NewEngine(lua.Options{
		Config: cfg.Lua, Health: snapshots, Checker: checker, Logger: logger,
		ConnectTimeout: hc.ConnectTimeout, TLSTimeout: hc.TLSTimeout, Host: host,
		// The Host's settings change when the generation is activated.
		DeferHostSettings: true,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("lua: %w", err)
	}
	handler, err := auth.New(auth.Options{
		Config: cfg, Health: snapshots, Checker: checker, Lua: engine, Logger: logger, Registerer: reg,
		SharedCache: sharedCache,
		Affinity:    affinity,
	})
	if err != nil {
		engine.Close()
		return nil, nil, err
	}
	mounts = []server.Mount{handler}
	if affinity != nil {
		mounts = append(mounts, auth.NewAffinityAPI(affinity, cfg, snapshots))
	}
	return mounts, engine, nil
}
