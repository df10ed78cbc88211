package server

import (
	"testing"
	"time"

	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/server/statuspagefake"
)

// Bug: the status page's "for" column of a check-drained backend counted
// from the admin state's since (an operator's "ready" days ago), as for
// an admin drain, though that change did not start the drain; it now
// counts from the check's first drain answer.
func TestReviewCheckDrainForColumn(t *testing.T) {
	web := statuspagefake.Target("web", "http", "10.0.0.9", 80, true)
	b := statuspagefake.Healthy(web, health.GroupMail, pageNow)
	b.Eligible, b.Reason, b.Draining, b.CheckDrainStatus = false, health.ReasonCheckDrain, true, 404
	b.CheckDrainSince = pageNow.Add(-7 * time.Minute)
	adm := pageAdmin{State: "ready", Who: "alice", Since: pageNow.Add(-72 * time.Hour), Source: "api"}
	row := buildRow(b, adm, pageNow)
	if row.State != "draining" || row.InState != "7m" {
		t.Errorf("state %q for %q, want draining for 7m", row.State, row.InState)
	}
}
