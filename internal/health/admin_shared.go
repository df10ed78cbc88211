package health

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// ReplaceAdmin makes recs the whole admin state, as shared storage holds it
// (other instances wrote it): overrides missing from recs are dropped, the
// others installed; expired and invalid records are skipped (errs says
// why). It applies only if the engine's overrides still equal expect (the
// caller's last view), so a local change made meanwhile is not
// overwritten: applied is false then, and the caller pushes its change
// first. It publishes at once and calls the OnAdminChange functions when
// something changed.
func (e *Engine) ReplaceAdmin(expect, recs []AdminRecord) (applied bool, errs []error) {
	e.mu.Lock()
	now := e.now()
	if !SameAdminRecords(e.adminRecordsLocked(now), expect, now) {
		e.mu.Unlock()
		return false, nil
	}
	next := make(map[string]*override, len(recs))
	for i, r := range recs {
		o, err := r.override()
		if err != nil {
			errs = append(errs, fmt.Errorf("record %d: %w", i, err))
			continue
		}
		if !o.expired(now) {
			next[r.ID] = o
		}
	}
	before := e.adminRecordsLocked(now)
	gen := e.gen.Load()
	for id := range e.admin {
		if _, kept := next[id]; !kept {
			if s := gen.byID[id]; s != nil {
				s.paused.Store(false)
			}
		}
	}
	for id, o := range next {
		if s := gen.byID[id]; s != nil {
			s.paused.Store(o.paused)
		}
	}
	e.admin = next
	changed := !SameAdminRecords(before, e.adminRecordsLocked(now), now)
	if changed {
		e.publishLocked(time.Time{})
	}
	e.mu.Unlock()
	if changed {
		e.logger.Info("backend admin state taken from shared storage", "overrides", len(next))
		e.adminChanged()
	}
	return true, errs
}

// SameAdminRecords reports whether a and b hold the same overrides live at
// now, whatever their order.
func SameAdminRecords(a, b []AdminRecord, now time.Time) bool {
	return slices.Equal(liveRecordKeys(a, now), liveRecordKeys(b, now))
}

func liveRecordKeys(recs []AdminRecord, now time.Time) []string {
	out := make([]string, 0, len(recs))
	for _, r := range recs {
		if r.Until != nil && !now.Before(*r.Until) {
			continue
		}
		r.Since = r.Since.UTC()
		if r.Until != nil {
			u := r.Until.UTC()
			r.Until = &u
		}
		b, _ := json.Marshal(r)
		out = append(out, string(b))
	}
	slices.Sort(out)
	return out
}
