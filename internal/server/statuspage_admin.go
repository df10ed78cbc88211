package server

import (
	"time"

	"github.com/backline/backline/internal/health"
)

// pageAdmin is a backend's admin state as the status page shows it.
type pageAdmin struct {
	State        string // ready, drain or maint
	Who, Why     string
	Since, Until time.Time
	Source       string // config or api
}

// adminOf adapts the snapshot's admin state for the page.
func adminOf(b health.Backend) pageAdmin {
	// health.Backend gains Admin with the registry work; until then every
	// backend is ready as configured.
	return pageAdmin{State: "ready", Source: "config"}
}
