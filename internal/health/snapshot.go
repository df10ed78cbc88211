// Package health turns probe results into per-target health: thresholds
// (gates), the scheduler, and the read-only snapshot everyone else reads.
package health

import (
	"net/netip"
	"time"

	"github.com/backline/backline/internal/probe"
)

// Snapshot is an immutable view of every target's health, replaced
// atomically after each round. Readers must not modify it.
type Snapshot struct {
	Taken    time.Time // end of the round that produced it (zero before the first)
	Round    uint64
	Backends []Backend // mail group first, then the other groups as given; targets in configuration order
}

// Group is a set of targets sharing intervals and thresholds: the mail
// targets of auth.services.backend_health_checks form one group, each gateway
// backend with beta_health another.
type Group struct {
	Name              string // GroupMail, or "gateway:<label>"
	ConnectInterval   time.Duration
	DeepInterval      time.Duration // equal to ConnectInterval: one combined round
	FailureThreshold  int
	RecoveryThreshold int
	InitialHealthy    bool
	Jitter            time.Duration
	// FastInterval, when positive, re-checks a target this long after a
	// result that left one of its gates part-way to a flip, instead of
	// waiting for the next round (fast.go). At most min(ConnectInterval,
	// DeepInterval); 0 turns it off.
	FastInterval time.Duration
	// DownInterval, when positive, probes a target that is down (and not
	// part-way back up) this long after its last result instead of in the
	// group's rounds (interval.go; HAProxy's downinter). At least
	// RecheckInterval; 0 keeps down targets in the rounds.
	DownInterval time.Duration
	Targets      []*probe.Target
	// IDs optionally gives each target's backend ID (parallel to Targets;
	// an empty entry or a nil slice means DefaultID).
	IDs []string
	// Weights optionally gives each target's configured weight, 0..MaxWeight
	// (parallel to Targets; nil means 1 for every target).
	Weights []int
	// Backups optionally marks targets that take traffic only when no
	// other target of their group (and protocol) is eligible, as HAProxy's
	// backup servers (parallel to Targets; nil means none is a backup).
	Backups []bool
	// Passive, when set, ejects targets that fail live traffic (see
	// PassivePolicy and ReportPassive).
	Passive *PassivePolicy
	// PassiveOnly groups are never probed: their targets stay healthy and
	// never turn stale; only Passive takes them out (Caddy's passive
	// health without active checks). ConnectInterval must still be set.
	PassiveOnly bool
	// PanicThreshold is the gateway's panic_threshold for the group's
	// backends, in percent (0: off); see panic.go. Carried into every
	// Backend of the group for the status API.
	PanicThreshold int
}

// GroupMail is the group of auth.services.backend_health_checks.targets.
const GroupMail = "backend_health_checks"

// Backend is one target's state in a snapshot.
type Backend struct {
	// ID identifies the backend across rounds (and, later, reloads): the
	// target's name, which config defaults to protocol://host:port.
	ID     string
	Group  string
	Weight int // effective share for weighted policies (0..MaxWeight)
	// Backup: the target is a failover reserve (Group.Backups). It is
	// eligible by the same rule as any target; selection prefers the
	// eligible non-backups.
	Backup bool
	// PanicThreshold is its group's (Group.PanicThreshold).
	PanicThreshold int
	Target         *TargetInfo // shared, read-only; no secrets
	// Admin is the operator's control state (ready, weight 1, health auto
	// and source "config" unless changed).
	Admin Admin
	// Eligible says whether selection may pick the backend; Reason says why
	// not. Computed once per snapshot, so every consumer agrees.
	Eligible bool
	Reason   Reason
	// Draining: the admin state is drain, its check answered a
	// drain_on_status status (Reason check_drain) or its agent answered
	// drain (Reason agent_drain), and the backend is otherwise
	// eligible (healthy or forced up, fresh, not ejected, weight > 0).
	// Selection gives it no new users, but the sticky policy keeps a user
	// whose stored affinity points at it until that affinity expires, so
	// open sessions are not split across two servers. Never with Eligible.
	Draining bool
	// CheckDrainStatus is the drain_on_status answer of the backend's last
	// deep check while it was healthy (0: none): with Reason check_drain
	// and Draining, the backend asked for no new traffic (check_drain.go).
	CheckDrainStatus int
	// CheckDrainSince is when that check drain began (its first drain
	// answer); zero without one.
	CheckDrainSince time.Time
	// Healthy combines the phases: connect.healthy && deep.healthy for deep
	// checks, connect.healthy otherwise (contract §4.3).
	Healthy bool
	Since   time.Time // last change of Healthy (start time if none yet)
	Connect PhaseState
	Deep    PhaseState
	// CertNotAfter is the leaf certificate expiry seen by the last TLS handshake.
	CertNotAfter time.Time
	// Mechanism is the SASL mechanism the last deep check used.
	Mechanism string
	// Addr is the IP the last passed connect phase reached (zero before
	// one, or when the dialer did not say); the nginx answer uses it
	// instead of resolving the host again.
	Addr netip.Addr
	// Steps are the timed stages of the last check.
	Steps []probe.Step
	// History is the last hour of checks (nil before the first); shared,
	// read-only.
	History *HistorySummary
	// Uptime is the share of checked time the backend was healthy over
	// the last hour, day and week (uptime.go); a window with no checked
	// time has no ratio.
	Uptime UptimeSummary
	// StaleAfter is how old the last check may get before the backend
	// counts as stale (0: never); see Eligibility.
	StaleAfter time.Duration
	// Schedule is the interval the backend's probes follow now and why
	// (interval.go).
	Schedule Schedule
	// ChecksPaused: an operator stopped the probes; the state is frozen and
	// never turns stale.
	ChecksPaused bool
	// EjectedUntil is the end of the backend's passive health ejection
	// (zero: never ejected); Ejections counts them (passive.go).
	EjectedUntil time.Time
	Ejections    uint64
	// Agent is what the backend's agent check said (nil: no agent); shared,
	// read-only. Weight already holds its percentage (agent.go).
	Agent *AgentStatus
}

// PhaseState is one gate (connect or deep) of one target.
type PhaseState struct {
	Healthy     bool
	LastCheck   time.Time
	LastSuccess time.Time
	LastError   string       // of the last check; empty after a success; no secrets
	LastReason  probe.Reason // of the last check; empty after a success
	Latency     time.Duration
	// True streaks, unlike the gate's own counters, which §4.3 resets
	// whenever a probe agrees with the current state.
	ConsecutiveFailures  int
	ConsecutiveSuccesses int
}

// Reason says why a backend is not eligible; empty when it is.
type Reason string

const (
	ReasonUnhealthy  Reason = "unhealthy"
	ReasonStale      Reason = "stale"
	ReasonDrain      Reason = "drain"
	ReasonMaint      Reason = "maint"
	ReasonWeightZero Reason = "weight_zero"
)

// Eligible returns the backends selection may pick, of a group and
// optionally one protocol ("" for all), in configuration order.
func (s *Snapshot) Eligible(group, protocol string) []Backend {
	if s == nil {
		return nil
	}
	out := make([]Backend, 0, len(s.Backends))
	for _, b := range s.Backends {
		if b.Eligible && b.Group == group && (protocol == "" || b.Target.Protocol == protocol) {
			out = append(out, b)
		}
	}
	return out
}

// Healthy returns the healthy backends of a group in configuration order,
// optionally only those of one protocol ("" for all).
func (s *Snapshot) Healthy(group, protocol string) []Backend {
	if s == nil {
		return nil
	}
	out := make([]Backend, 0, len(s.Backends))
	for _, b := range s.Backends {
		if b.Healthy && b.Group == group && (protocol == "" || b.Target.Protocol == protocol) {
			out = append(out, b)
		}
	}
	return out
}

// Source is what readers depend on: the current snapshot, never the scheduler.
type Source interface {
	Snapshot() *Snapshot
}
