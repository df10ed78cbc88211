package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
)

// adminStateFileName is the state file's name in systemd's STATE_DIRECTORY.
const adminStateFileName = "admin-state.json"

// adminStatePath is server.state_file, else $STATE_DIRECTORY/admin-state.json
// when systemd sets STATE_DIRECTORY (StateDirectory=), else "" (none).
func adminStatePath(cfg *config.Config) string {
	if cfg.Server.StateFile != "" {
		return cfg.Server.StateFile
	}
	if dir := os.Getenv("STATE_DIRECTORY"); dir != "" {
		// systemd may list several directories separated by colons.
		if first, _, _ := strings.Cut(dir, ":"); first != "" && filepath.IsAbs(first) {
			return filepath.Join(first, adminStateFileName)
		}
	}
	return ""
}

// setupAdminState loads the admin state file into engine and writes it
// after every admin change. A missing file is a first start; an unreadable
// or corrupt one is logged and the daemon starts without it (never a
// crash): the next admin change replaces it.
func setupAdminState(cfg *config.Config, engine *health.Engine, logger *slog.Logger) {
	path := adminStatePath(cfg)
	if path == "" {
		return
	}
	recs, err := health.LoadAdminFile(path)
	if err != nil {
		logger.Error("admin state file not loaded; starting without it (it is rewritten at the next admin change)",
			"path", path, "error", err)
	} else if len(recs) > 0 {
		unknown, errs := engine.RestoreAdmin(recs)
		for _, err := range errs {
			logger.Error("admin state record ignored", "path", path, "error", err)
		}
		if len(unknown) > 0 {
			logger.Warn("admin state for backends the configuration does not have; kept in the file, applied if they return",
				"path", path, "ids", unknown)
		}
		logger.Info("admin state loaded", "path", path, "records", len(recs)-len(errs))
	}
	var mu sync.Mutex
	engine.OnAdminChange(func() {
		mu.Lock()
		defer mu.Unlock()
		if err := health.SaveAdminFile(path, engine.AdminRecords()); err != nil {
			logger.Error("admin state file not written", "path", path, "error", err)
		}
	})
}
