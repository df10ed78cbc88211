package server

import (
	"time"

	"github.com/backline/backline/internal/health"
)

// agentView is what a backend's agent check said (agent.go in health);
// omitted for backends without one. The text the check sends is never
// part of it. The backend's weight field is already scaled by
// weight_percent; admin.weight is the configured (or API) weight.
type agentView struct {
	Address       string `json:"address"`
	Admin         string `json:"admin"`  // ready, drain, maint
	Health        string `json:"health"` // up, down, fail, stopped
	Description   string `json:"description,omitempty"`
	WeightPercent int    `json:"weight_percent"`
	// MaxConn: the agent's last maxconn:N; shown, not enforced.
	MaxConn             *int       `json:"maxconn,omitempty"`
	LastReply           *string    `json:"last_reply,omitempty"`
	LastUnknownWord     string     `json:"last_unknown_word,omitempty"`
	LastCheck           *time.Time `json:"last_check,omitempty"`
	LastSuccess         *time.Time `json:"last_success,omitempty"`
	LastError           string     `json:"last_error,omitempty"`
	ConsecutiveFailures int        `json:"consecutive_failures"`
	Since               *time.Time `json:"since,omitempty"`
}

func viewAgent(a *health.AgentStatus) *agentView {
	if a == nil {
		return nil
	}
	v := &agentView{
		Address:             a.Address,
		Admin:               string(a.Admin),
		Health:              string(a.Health),
		Description:         a.Description,
		WeightPercent:       a.WeightPercent,
		LastUnknownWord:     a.LastUnknown,
		LastCheck:           timePtr(a.LastCheck),
		LastSuccess:         timePtr(a.LastSuccess),
		LastError:           a.LastError,
		ConsecutiveFailures: a.ConsecutiveFailures,
		Since:               timePtr(a.Since),
	}
	if a.MaxConn >= 0 {
		n := a.MaxConn
		v.MaxConn = &n
	}
	if !a.LastSuccess.IsZero() {
		// Present once a line was read, even an empty one.
		r := a.LastReply
		v.LastReply = &r
	}
	return v
}
