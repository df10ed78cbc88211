package server

import (
	"time"

	"github.com/backline/backline/internal/health"
)

// adminView is the JSON form of a backend's admin state (contract: GET and
// PUT /api/v1/backends/{id}/admin and the "admin" member of /api/v1/backends).
type adminView struct {
	ID           string     `json:"id,omitempty"`
	State        string     `json:"state"`
	Weight       int        `json:"weight"`
	Health       string     `json:"health"`
	ChecksPaused bool       `json:"checks_paused"`
	Who          string     `json:"who,omitempty"`
	Why          string     `json:"why,omitempty"`
	Since        *time.Time `json:"since,omitempty"`
	Until        *time.Time `json:"until,omitempty"`
	Source       string     `json:"source"`
}

func viewAdmin(id string, a health.Admin) adminView {
	return adminView{
		ID:           id,
		State:        string(a.State),
		Weight:       a.Weight,
		Health:       string(a.Health),
		ChecksPaused: a.ChecksPaused,
		Who:          a.Who,
		Why:          a.Why,
		Since:        timePtr(a.Since),
		Until:        timePtr(a.Until),
		Source:       a.Source,
	}
}
