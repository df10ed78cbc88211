package lua

import (
	"fmt"
	"testing"
	"time"
)

// Against MariaDB: a run abandons its query at script_timeout and the
// pools close right after (the daemon stops, `backline lua test` ends).
// By the time CloseDBPools returns the KILL has been answered, so the
// lock wait leaves the server instead of holding its thread for
// innodb_lock_wait_timeout (see db_kill_shutdown_test.go for the bug).
func TestDBKillReachesMariaDBBeforeThePoolsClose(t *testing.T) {
	m := fixtureMariaDB(t)
	marker := fmt.Sprintf("backline_kill_close_%d", time.Now().UnixNano())
	watch, table, holder := lockedRow(t, m)
	defer holder.Rollback()

	e, _ := killTestEngine(t, m, 300*time.Millisecond, table, marker)
	if _, err := e.RunFilters(t.Context(), &Request{Username: "slow"}); err == nil {
		t.Fatal("the slow run finished")
	}
	e.host.CloseDBPools()
	killer := dbState(e.host).killer
	if n := killer.count(killKilled); n != 1 {
		t.Fatalf("killed %d when CloseDBPools returned (gone %d, error %d, skipped %d), want 1",
			n, killer.count(killGone), killer.count(killError), killer.count(killSkipped))
	}
	waitQueryGone(t, watch, marker)
}
