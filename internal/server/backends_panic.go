package server

import (
	"time"

	"github.com/backline/backline/internal/health"
)

// panicView is the panic mode (panic_threshold) of a gateway backend with
// origins, shown on each of its origins: the threshold, whether the
// backend is in panic now and the counts of the tier judged. Omitted for
// groups without a panic_threshold.
type panicView struct {
	Threshold int    `json:"threshold"`
	Active    bool   `json:"active"`
	Tier      string `json:"tier"` // primary or backup
	Eligible  int    `json:"eligible"`
	Usable    int    `json:"usable"`
}

// viewBackendIn is viewBackend plus what needs the whole snapshot: the
// panic mode of b's group (judged once per group; cache may be nil).
func viewBackendIn(snap *health.Snapshot, b health.Backend, cache map[string]*panicView, now time.Time) backendView {
	v := viewBackend(b)
	if b.PanicThreshold == 0 {
		return v
	}
	if pv, ok := cache[b.Group]; ok {
		v.Panic = pv
		return v
	}
	st := health.GroupPanic(snap, b.Group, now)
	pv := &panicView{Threshold: st.Threshold, Active: st.Panic, Tier: "primary", Eligible: st.Eligible, Usable: st.Usable}
	if st.Backups {
		pv.Tier = "backup"
	}
	if cache != nil {
		cache[b.Group] = pv
	}
	v.Panic = pv
	return v
}
