package health

import (
	"math"
	"time"

	"github.com/backline/backline/internal/probe"
)

// The status page shows a latency sparkline over the last hour for up to
// thousands of backends, so the history is aggregated as it is recorded
// instead of keeping every check: 60 per-minute buckets, a ring indexed by
// the minute number modulo its length. A bucket whose slot does not match
// the minute asked for is old data and counts as empty. About 2 KB per
// backend, whatever the check interval (TestHistorySize reports the
// figure). Uptime ratios are measured in time, not checks: uptime.go.

// HistoryMinutes is the ring length.
const HistoryMinutes = 60

// minuteBucket aggregates the checks of one minute.
type minuteBucket struct {
	slot   int32  // Unix minute this bucket holds; 0 = never used
	checks uint16 // checks recorded
	fails  uint16 // of which failed
	up     uint16 // checks after which the backend's verdict was healthy
	timed  uint16 // successful checks of the main phase, whose latency counts
	minUS  uint32 // latency of the timed checks, microseconds
	maxUS  uint32
	sumUS  uint64
}

// history is one backend's ring. Only its group's loop goroutine writes it;
// readers get a HistorySummary copied into the snapshot.
type history struct {
	minutes [HistoryMinutes]minuteBucket
	last    time.Time // time of the newest recorded check
}

// add records one check. healthy is the backend's verdict after the check;
// latency counts only when timed (a successful check of the phase the
// backend is judged by), so a timeout does not draw a 5 s spike.
func (h *history) add(now time.Time, ok, healthy, timed bool, latency time.Duration) {
	if now.Before(h.last) {
		now = h.last // the clock stepped back: file it under the newest minute
	}
	unix := now.Unix()
	if unix < 3600 {
		return // a test clock near the epoch: slot 0 means "never used"
	}
	h.last = now
	mslot := int32(unix / 60)
	m := &h.minutes[int(mslot)%HistoryMinutes]
	if m.slot != mslot {
		*m = minuteBucket{slot: mslot}
	}
	m.checks = incr16(m.checks)
	if !ok {
		m.fails = incr16(m.fails)
	}
	if healthy {
		m.up = incr16(m.up)
	}
	if timed && m.timed < math.MaxUint16 {
		us := uint32(min(max(latency.Microseconds(), 0), math.MaxUint32))
		if m.timed == 0 || us < m.minUS {
			m.minUS = us
		}
		m.maxUS = max(m.maxUS, us)
		m.sumUS += uint64(us)
		m.timed++
	}
}

// incr16 counts up to the type's limit; a minute never holds 65,535 checks
// at sane intervals, and saturating keeps the ratios meaningful if it did.
func incr16(v uint16) uint16 {
	if v == math.MaxUint16 {
		return v
	}
	return v + 1
}

// HistoryPoint is one minute of a HistorySummary. Checks == 0 means no data.
type HistoryPoint struct {
	Checks, Fails, Up uint16
	// Latency of the minute's successful checks (zero when there were none).
	Min, Avg, Max time.Duration
}

// HistorySummary is what a snapshot carries: the last hour minute by minute
// (oldest first, the newest minute last) and its number of checks.
type HistorySummary struct {
	End      time.Time // the newest check; Minutes[len-1] is its minute
	Minutes  [HistoryMinutes]HistoryPoint
	Checks1h int
}

// summary builds the snapshot copy; nil before the first check. 60 bucket
// reads: cheap enough to run for every backend at every publish.
func (h *history) summary() *HistorySummary {
	if h.last.IsZero() {
		return nil
	}
	s := &HistorySummary{End: h.last}
	unix := h.last.Unix()
	mslot := int32(unix / 60)
	for i := range HistoryMinutes {
		slot := mslot - int32(HistoryMinutes-1-i)
		if slot <= 0 {
			continue
		}
		m := &h.minutes[int(slot)%HistoryMinutes]
		if m.slot != slot {
			continue
		}
		p := &s.Minutes[i]
		p.Checks, p.Fails, p.Up = m.checks, m.fails, m.up
		if m.timed > 0 {
			p.Min = time.Duration(m.minUS) * time.Microsecond
			p.Max = time.Duration(m.maxUS) * time.Microsecond
			p.Avg = time.Duration(m.sumUS/uint64(m.timed)) * time.Microsecond
		}
		s.Checks1h += int(m.checks)
	}
	return s
}

// noteHistory records one check result in the target's history and
// uptime (uptime.go): called
// where a result is recorded (the group loop), after the gates moved, so
// s.healthy is the verdict this check led to. ok is what the gates
// recorded (outcome.ok), not res.OK: a drain answer from a backend that is
// down passed the probe but is a failed check (check_drain.go). Latency
// counts from the phase the backend is judged by: deep for deep-checked
// targets, connect otherwise.
func (s *targetState) noteHistory(phase probe.Phase, ok bool, res *probe.Result, now time.Time) {
	main := (phase == probe.PhaseDeep) == s.target.DeepCheck
	s.history.add(now, ok, s.healthy, main && ok, res.Duration)
	s.noteUptime(now)
}
