package health

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/backline/backline/internal/probe"
)

// sharedResult is a deep probe result as the lease holder publishes it:
// what the gates, history, logs and metrics read, nothing more (no
// transcript; probe errors never hold credentials).
type sharedResult struct {
	OK           bool         `json:"ok"`
	Reason       probe.Reason `json:"reason,omitempty"`
	Err          string       `json:"err,omitempty"`
	FailedPhase  probe.Phase  `json:"failed_phase,omitempty"`
	Duration     int64        `json:"duration_ns"`
	Steps        []probe.Step `json:"steps,omitempty"`
	CertNotAfter time.Time    `json:"cert_not_after,omitzero"`
	Mechanism    string       `json:"mechanism,omitempty"`
	// DrainStatus: an OK http check answered a drain_on_status status
	// (check_drain.go); 0 otherwise. An older instance ignores it.
	DrainStatus int `json:"drain_status,omitempty"`
}

func encodeShared(res *probe.Result) ([]byte, error) {
	w := sharedResult{OK: res.OK, FailedPhase: res.FailedPhase, Duration: int64(res.Duration),
		Steps: res.Steps, CertNotAfter: res.CertNotAfter, Mechanism: res.Mechanism}
	if res.OK {
		w.DrainStatus = res.DrainStatus
	} else {
		w.Reason = failureReason(res)
		w.Err = failureText(res)
	}
	return json.Marshal(w)
}

func decodeShared(data []byte) (probe.Result, error) {
	var w sharedResult
	if err := json.Unmarshal(data, &w); err != nil {
		return probe.Result{}, err
	}
	if w.Duration < 0 {
		return probe.Result{}, errors.New("negative duration")
	}
	res := probe.Result{Phase: probe.PhaseDeep, OK: w.OK, Reason: w.Reason, FailedPhase: w.FailedPhase,
		Duration: time.Duration(w.Duration), Steps: w.Steps, CertNotAfter: w.CertNotAfter, Mechanism: w.Mechanism}
	if w.OK && w.DrainStatus >= 100 && w.DrainStatus <= 599 {
		res.DrainStatus = w.DrainStatus
	}
	if !w.OK {
		if w.Err == "" {
			w.Err = "check failed without an error"
		}
		res.Err = errors.New(w.Err)
	}
	return res, nil
}

// recordSharedDeep applies a published deep result to the deep gate only:
// with probe leases the connect tier stays local (each instance's own
// network path), so another instance's deep success is no connect success
// here, unlike record's.
func (s *targetState) recordSharedDeep(res *probe.Result, now time.Time) outcome {
	drainFrom := s.checkDrain
	res = s.ownDrainAnswer(res)                       // check_drain.go
	res = s.noteCheckDrain(probe.PhaseDeep, res, now) // check_drain.go
	out := s.beginOutcome(probe.PhaseDeep, res, drainFrom)
	if s.deepGate.record(res.OK) {
		out.changes = append(out.changes, gateChange{probe.PhaseDeep, s.deepGate.healthy})
	}
	s.deep.note(&s.deepGate, &out, res.Duration, now)
	s.updateHealthy(&out, now)
	out.checkDrainTo = s.checkDrain
	return out
}

// recordConnectPart applies the connect part of this instance's own
// combined deep probe (its deep part is published and fed back like every
// other instance's): the connect gate as recordCombined would. ok is false
// when the result does not say whether the connect phase passed.
func (s *targetState) recordConnectPart(res *probe.Result, now time.Time) (out outcome, part probe.Result, ok bool) {
	if !res.OK && res.FailedPhase == "" {
		return outcome{}, probe.Result{}, false
	}
	connectOK := res.OK || res.FailedPhase != probe.PhaseConnect
	part = probe.Result{Phase: probe.PhaseConnect, OK: connectOK, Duration: res.Duration}
	if connectOK {
		part.Duration = s.connectPartLatency(res)
	} else {
		part.Reason, part.Err = res.Reason, res.Err
	}
	out = outcome{phase: probe.PhaseConnect, ok: connectOK}
	if !connectOK {
		out.reason = failureReason(res)
		out.errText = failureText(res)
	}
	s.noteCheckedAddr(res)
	if s.connectGate.record(connectOK) {
		out.changes = append(out.changes, gateChange{probe.PhaseConnect, connectOK})
	}
	s.connect.note(&s.connectGate, &out, part.Duration, now)
	s.updateHealthy(&out, now)
	return out, part, true
}
