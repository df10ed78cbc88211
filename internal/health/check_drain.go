package health

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/backline/backline/internal/probe"
)

// ReasonCheckDrain: the backend's own http check answered one of its
// drain_on_status statuses (HAProxy's disable-on-404, its NOLB state).
// The backend is up and keeps the users the sticky policy stored for it
// (Draining), like an admin drain, but gets no new ones.
const ReasonCheckDrain Reason = "check_drain"

// noteCheckDrain applies a deep check's drain answer before the gates see
// the result, and returns what they record:
//
//   - a drain answer while the backend is healthy is a success (the
//     server answers; failure_threshold does not count it) and starts the
//     check drain at once, without waiting for any threshold;
//   - a drain answer while the backend is down is a failure: a down
//     server stays down (as in HAProxy) and recovery_threshold counts only
//     expected statuses, so a backend is never put back just to drain;
//   - an expected status ends the check drain at once (HAProxy puts the
//     server back on its first 2xx/3xx);
//   - a failed check keeps it: the server asked for no new traffic and
//     a timeout does not say it changed its mind. The backend turning
//     unhealthy ends it (record), since it is then out anyway.
func (s *targetState) noteCheckDrain(phase probe.Phase, res *probe.Result, now time.Time) *probe.Result {
	if phase != probe.PhaseDeep {
		return res // a connect check sends no HTTP request
	}
	switch {
	case res.OK && res.DrainStatus != 0:
		if !s.healthy {
			failed := *res
			failed.OK = false
			failed.Reason = probe.ReasonProtocol
			failed.FailedPhase = probe.PhaseDeep
			failed.Err = fmt.Errorf("HTTP status %d is in drain_on_status: a backend that is down stays down until the check answers an expected status", res.DrainStatus)
			return &failed
		}
		if s.checkDrain == 0 {
			s.checkDrainSince = now
		}
		s.checkDrain = res.DrainStatus
	case res.OK:
		s.checkDrain = 0
	}
	return res
}

// ownDrainAnswer judges the drain status of a shared (probe lease) result
// by this instance's configuration: the holder's drain_on_status may
// differ (a reload rolling through the instances) and a store value may be
// anything. A status this target does not list drains nothing: it passes
// when this target expects it, else it is a failed check, as this
// instance's own probe would have judged the answer.
func (s *targetState) ownDrainAnswer(res *probe.Result) *probe.Result {
	if !res.OK || res.DrainStatus == 0 {
		return res
	}
	h := s.target.HTTP
	if h != nil && slices.Contains(h.DrainStatuses, res.DrainStatus) {
		return res
	}
	own := *res
	own.DrainStatus = 0
	if h != nil && probe.StatusPasses(res.DrainStatus, h) {
		return &own
	}
	own.OK = false
	own.Reason = probe.ReasonProtocol
	own.FailedPhase = probe.PhaseDeep
	own.Err = fmt.Errorf("HTTP status %d, a drain answer to the probe lease holder, is neither in expected_status nor in drain_on_status here", res.DrainStatus)
	return &own
}

// checkDrainStart is when the running check drain began; zero without one.
func (s *targetState) checkDrainStart() time.Time {
	if s.checkDrain == 0 {
		return time.Time{}
	}
	return s.checkDrainSince
}

// endCheckDrainIfDown ends the check drain of a backend that turned
// unhealthy: it is out for that reason now, and must pass the checks with
// an expected status to come back.
func (s *targetState) endCheckDrainIfDown() {
	if !s.healthy {
		s.checkDrain = 0
	}
}

// dropStaleCheckDrain ends a check drain that the new configuration no
// longer asks for (a reload removed drain_on_status or the status).
func (s *targetState) dropStaleCheckDrain() {
	if s.checkDrain == 0 {
		return
	}
	if h := s.target.HTTP; h == nil || !slices.Contains(h.DrainStatuses, s.checkDrain) {
		s.checkDrain = 0
	}
}

// checkDraining: b is kept from new traffic by its check's drain answer.
// Forced health up sets the checks aside, this answer included; forced
// down and the admin states are decided before it (eligibility).
func checkDraining(b *Backend) bool {
	return b.CheckDrainStatus != 0 && b.Admin.Health != HealthUp
}

// logCheckDrain writes one INFO line when a check drain starts or ends:
// an operator sees why a backend stopped taking new traffic without an
// admin change. Only names, the address and statuses are logged.
func logCheckDrain(ctx context.Context, logger *slog.Logger, s *targetState, out *outcome) {
	if out.checkDrainFrom == out.checkDrainTo {
		return
	}
	msg, status := "backend check drain started", out.checkDrainTo
	if out.checkDrainTo == 0 {
		msg, status = "backend check drain ended", out.checkDrainFrom
	}
	logger.LogAttrs(ctx, slog.LevelInfo, msg,
		slog.String("group", s.group),
		slog.String("target", s.name),
		slog.String("address", s.target.Address()),
		slog.Int("drain_status", status),
		slog.Bool("backend_healthy", s.healthy))
}
