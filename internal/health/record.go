package health

import (
	"time"

	"github.com/backline/backline/internal/probe"
)

// gateChange is one gate flipping.
type gateChange struct {
	phase probe.Phase
	to    bool
}

// outcome is what one recorded probe changed, for logs and metrics.
type outcome struct {
	phase          probe.Phase // the phase that was probed
	ok             bool
	reason         probe.Reason
	errText        string
	changes        []gateChange
	healthyChanged bool
	// connectRecorded is set when a combined deep probe also recorded the
	// connect phase: connectOK is that phase's result, connectLatency its
	// duration (the whole probe when the connect phase failed).
	connectRecorded bool
	connectOK       bool
	connectLatency  time.Duration
	// checkDrainFrom and checkDrainTo are the check drain's status before
	// and after the probe (check_drain.go), for its log line.
	checkDrainFrom, checkDrainTo int
}

// record applies one probe result as contract §4.3 says: a connect result
// goes to the connect gate; a deep success is a success on both gates (it
// proved connectivity); a deep failure goes to the deep gate only, even when
// it was a dial error.
func (s *targetState) record(phase probe.Phase, res *probe.Result, now time.Time) outcome {
	drainFrom := s.checkDrain
	res = s.noteCheckDrain(phase, res, now) // check_drain.go
	out := s.beginOutcome(phase, res, drainFrom)
	s.noteCheckedAddr(res)

	switch {
	case phase == probe.PhaseConnect:
		if s.connectGate.record(res.OK) {
			out.changes = append(out.changes, gateChange{probe.PhaseConnect, s.connectGate.healthy})
		}
		s.connect.note(&s.connectGate, &out, res.Duration, now)
	case res.OK:
		if s.connectGate.record(true) {
			out.changes = append(out.changes, gateChange{probe.PhaseConnect, true})
		}
		s.connect.note(&s.connectGate, &out, s.connectPartLatency(res), now)
		if s.deepGate.record(true) {
			out.changes = append(out.changes, gateChange{probe.PhaseDeep, true})
		}
		s.deep.note(&s.deepGate, &out, res.Duration, now)
	default:
		if s.deepGate.record(false) {
			out.changes = append(out.changes, gateChange{probe.PhaseDeep, false})
		}
		s.deep.note(&s.deepGate, &out, res.Duration, now)
	}

	s.updateHealthy(&out, now)
	out.checkDrainTo = s.checkDrain
	return out
}

// beginOutcome is res's outcome before the gates see it (drainFrom: the
// check drain's status before the probe), and keeps what the target shows
// of every result, this instance's or a published one: the steps, the
// certificate's expiry and the SASL mechanism.
func (s *targetState) beginOutcome(phase probe.Phase, res *probe.Result, drainFrom int) outcome {
	out := outcome{phase: phase, ok: res.OK, checkDrainFrom: drainFrom}
	if !res.OK {
		out.reason = failureReason(res)
		out.errText = failureText(res)
	}
	s.steps = res.Steps
	if !res.CertNotAfter.IsZero() {
		// Kept across failed checks so the expiry metric does not vanish
		// while a backend is down.
		s.certNotAfter = res.CertNotAfter
	}
	if res.Mechanism != "" {
		s.mechanism = res.Mechanism
	}
	return out
}

func (s *targetState) updateHealthy(out *outcome, now time.Time) {
	if h := s.combined(); h != s.healthy {
		s.healthy = h
		s.since = now
		out.healthyChanged = true
	}
	s.endCheckDrainIfDown()
}

// recordCombined applies a deep probe of a combined round (deep_interval
// equal to connect_interval), where no connect round ever runs for this
// target. Beyond contract §4.3 it records the connect phase's own result,
// so a refused or TLS-failing backend shows its connect phase down (issue 9
// item 9) instead of "connect ok, checked never":
//   - connect phase failed: a failure on both gates;
//   - connect phase passed, deep failed: connect success, deep failure;
//   - success: both gates, as record does.
//
// A result that does not say where it failed (FailedPhase empty) is
// recorded as record does.
func (s *targetState) recordCombined(res *probe.Result, now time.Time) outcome {
	if res.OK && res.DrainStatus != 0 && !s.healthy {
		// A down backend's drain answer is a deep failure after a good
		// connect (check_drain.go): the connect gate gets its success.
		// Only this case is turned here; record applies the others.
		res = s.noteCheckDrain(probe.PhaseDeep, res, now)
	}
	if res.OK || res.FailedPhase == "" {
		return s.record(probe.PhaseDeep, res, now)
	}
	out := s.record(probe.PhaseDeep, res, now) // the deep gate: a failure
	connectOK := res.FailedPhase != probe.PhaseConnect
	latency := res.Duration
	if connectOK {
		latency = s.connectPartLatency(res)
	}
	if s.connectGate.record(connectOK) {
		out.changes = append([]gateChange{{probe.PhaseConnect, connectOK}}, out.changes...)
	}
	connectOut := outcome{ok: connectOK, reason: out.reason, errText: out.errText}
	s.connect.note(&s.connectGate, &connectOut, latency, now)
	out.connectRecorded, out.connectOK, out.connectLatency = true, connectOK, latency
	s.updateHealthy(&out, now)
	out.checkDrainTo = s.checkDrain
	return out
}

// note copies one recorded result into the phase's public state.
func (p *PhaseState) note(g *gate, out *outcome, latency time.Duration, now time.Time) {
	p.Healthy = g.healthy
	p.LastCheck = now
	p.Latency = latency
	p.ConsecutiveFailures = g.streakFailures
	p.ConsecutiveSuccesses = g.streakSuccesses
	if out.ok {
		p.LastSuccess = now
		p.LastError = ""
		p.LastReason = probe.ReasonNone
		return
	}
	p.LastError = out.errText
	p.LastReason = out.reason
}

// connectPartLatency is the connect part of a deep check: the stages the
// connect phase would have run on its own, the greeting included when it
// reads one (connect_check: greeting).
func (s *targetState) connectPartLatency(res *probe.Result) time.Duration {
	var d time.Duration
	for _, st := range res.Steps {
		switch st.Name {
		case "connect", "proxy", "tls":
			d += st.Duration
		case "greeting":
			if s.target.ConnectGreeting {
				d += st.Duration
			}
		}
	}
	return d
}

func failureReason(res *probe.Result) probe.Reason {
	if res.Reason != probe.ReasonNone {
		return res.Reason
	}
	if res.Err != nil {
		return probe.Classify(res.Err)
	}
	return probe.ReasonProtocol
}

// failureText is the probe's error text; probe errors never carry
// credentials (package probe guarantees it), and nothing here adds any.
func failureText(res *probe.Result) string {
	if res.Err != nil {
		return res.Err.Error()
	}
	return "check failed without an error"
}
