package server

import (
	"fmt"
	"strings"
	"time"

	"github.com/backline/backline/internal/health"
)

// connectCheckDetail names the connect-only check in effect in a row's
// detail: "connect:greeting" reads the greeting and says goodbye,
// "connect:tcp" only opens and closes the connection (docs/operations.md,
// Connect-only checks). Empty when the target does not say.
func connectCheckDetail(t *health.TargetInfo) string {
	if t.ConnectCheck == "" {
		return ""
	}
	return "connect:" + t.ConnectCheck
}

// groupPanics judges the panic mode of each gateway group with a
// panic_threshold once per page, as the status API does.
type groupPanics struct {
	snap   *health.Snapshot
	judged map[string]health.PanicState
}

// note is what a row of b adds to its detail while b's group is in panic:
// its origins the checks took out take traffic again, which an operator
// reading "down" must know. Empty outside panic.
func (p *groupPanics) note(b health.Backend, now time.Time) string {
	if b.PanicThreshold == 0 || p.snap == nil {
		return ""
	}
	st, ok := p.judged[b.Group]
	if !ok {
		st = health.GroupPanic(p.snap, b.Group, now)
		if p.judged == nil {
			p.judged = map[string]health.PanicState{}
		}
		p.judged[b.Group] = st
	}
	return panicText(st)
}

func panicText(st health.PanicState) string {
	if !st.Panic {
		return ""
	}
	tier := ""
	if st.Backups {
		tier = " backup"
	}
	return fmt.Sprintf("panic: %d of %d usable%s origins eligible, under %d %%; balancing over all %d",
		st.Eligible, st.Usable, tier, st.Threshold, st.Usable)
}

// addDetail appends s to the row's detail and its filter key.
func (r *statusRow) addDetail(s string) {
	if s == "" {
		return
	}
	r.Detail += " " + s
	r.Key += " " + strings.ToLower(s)
}
