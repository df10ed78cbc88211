package health

import (
	"errors"
	"time"
)

// AdminState is an operator's rotation state of a backend (HAProxy's
// ready/drain/maint).
type AdminState string

const (
	// AdminReady: in rotation when healthy.
	AdminReady AdminState = "ready"
	// AdminDrain: no new logins or requests; running ones are untouched.
	AdminDrain AdminState = "drain"
	// AdminMaint: out of rotation; checks go on.
	AdminMaint AdminState = "maint"
)

// ForcedHealth overrides the checks' verdict: up, down, or auto (the checks).
type ForcedHealth string

const (
	HealthAuto ForcedHealth = "auto"
	HealthUp   ForcedHealth = "up"
	HealthDown ForcedHealth = "down"
)

// Admin sources.
const (
	SourceConfig = "config"
	SourceAPI    = "api"
)

// MaxWeight is the largest weight a backend may have (HAProxy's 256).
const MaxWeight = 256

// Admin is a backend's runtime control state as the snapshot shows it.
type Admin struct {
	State        AdminState
	Weight       int // effective weight, 0..MaxWeight
	Health       ForcedHealth
	ChecksPaused bool
	Who, Why     string
	Since        time.Time
	Until        time.Time // zero: no TTL
	Source       string    // SourceConfig or SourceAPI
}

func defaultAdmin(weight int) Admin {
	return Admin{State: AdminReady, Weight: weight, Health: HealthAuto, Source: SourceConfig}
}

// ErrUnknownBackend is returned for an ID no backend has.
var ErrUnknownBackend = errors.New("unknown backend")
