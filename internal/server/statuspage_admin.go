package server

import (
	"strconv"
	"time"

	"github.com/backline/backline/internal/health"
)

// pageAdmin is a backend's admin state as the status page shows it.
type pageAdmin struct {
	State        string // ready, drain or maint
	Who, Why     string
	Since, Until time.Time
	Source       string // config or api
	Extra        string // forced health, paused checks, weight: only when set
}

// adminOf adapts the snapshot's admin state for the page.
func adminOf(b health.Backend) pageAdmin {
	a := b.Admin
	p := pageAdmin{State: string(a.State), Who: a.Who, Why: a.Why, Since: a.Since, Until: a.Until, Source: a.Source}
	if p.State == "" {
		p.State = string(health.AdminReady)
	}
	add := func(s string) {
		if p.Extra != "" {
			p.Extra += ", "
		}
		p.Extra += s
	}
	if a.Health != "" && a.Health != health.HealthAuto {
		add("health forced " + string(a.Health))
	}
	if a.ChecksPaused {
		add("checks paused")
	}
	if b.Weight != 1 {
		add("weight " + strconv.Itoa(b.Weight))
	}
	return p
}
