package lua

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
)

// A query that outlives the run's script_timeout, or whose caller gives
// up, is killed on the server: it leaves MariaDB's process list, where it
// used to stay after the driver closed its connection. The query waits
// for a row lock the test holds (innodb_lock_wait_timeout, 50 s by
// default): MariaDB itself ends a SLEEP() of a client that went away
// within 5 s (it checks the connection between waits), so SLEEP could not
// tell a KILL from that; a lock wait or a long computation is never
// checked. Queries that finish are not killed.
func TestDBAbandonedQueryIsKilledOnTheServer(t *testing.T) {
	m := fixtureMariaDB(t)
	marker := fmt.Sprintf("backline_kill_%d", time.Now().UnixNano())
	watch, table, holder := lockedRow(t, m)
	defer holder.Rollback()

	// script_timeout; finished queries and a failing one are not killed.
	e, logs := killTestEngine(t, m, 300*time.Millisecond, table, marker+"_timeout")
	killer := dbState(e.host).killer
	if _, err := e.RunFilters(t.Context(), &Request{Username: "fast"}); err != nil {
		t.Fatal(err)
	}
	killer.wait()
	for _, r := range killResults {
		if n := killer.count(r); n != 0 {
			t.Fatalf("%d KILLs (%s) for queries that finished", n, r)
		}
	}
	_, err := e.RunFilters(t.Context(), &Request{Username: "slow"})
	var se *ScriptError
	if !errors.As(err, &se) || !se.Timeout || !strings.Contains(err.Error(), "db query") {
		t.Fatalf("want a timeout in the db query, got %v", err)
	}
	waitQueryGone(t, watch, marker+"_timeout")
	killer.wait()
	if n := killer.count(killKilled); n != 1 {
		t.Errorf("killed %d (gone %d, error %d, skipped %d), want 1", n, killer.count(killGone), killer.count(killError), killer.count(killSkipped))
	}
	if _, err := e.RunFilters(t.Context(), &Request{Username: "fast"}); err != nil {
		t.Fatalf("after the KILL: %v", err)
	}

	// The caller gives up while the query runs on the server.
	e2, logs2 := killTestEngine(t, m, 20*time.Second, table, marker+"_canceled")
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := e2.RunFilters(ctx, &Request{Username: "slow"})
		done <- err
	}()
	waitQuerySeen(t, watch, marker+"_canceled")
	cancel()
	if err := <-done; err == nil {
		t.Fatal("the canceled run succeeded")
	}
	waitQueryGone(t, watch, marker+"_canceled")
	killer2 := dbState(e2.host).killer
	killer2.wait()
	if n := killer2.count(killKilled); n != 1 {
		t.Errorf("killed %d after the cancel, want 1", n)
	}
	for _, l := range []*syncBuffer{logs, logs2} {
		if strings.Contains(l.String(), m.password) {
			t.Errorf("the password is in the logs:\n%s", l)
		}
	}
}

// killTestEngine runs a filter whose user "slow" waits for the lock on
// table's row 1 in a query that names marker; every user then runs quick
// queries and a failing one.
func killTestEngine(t *testing.T, m mariaDB, timeout time.Duration, table, marker string) (*Engine, *syncBuffer) {
	cfg := m.cfg
	cfg.ScriptTimeout = timeout
	return newEngine(t, engineSetup{cfg: cfg, filters: []config.LuaFilter{filter(t, "f", `local db = require("db")
function nauthilus_call_filter(request)
  local h = assert(db.open("mysql", "`+m.dsn+`"))
  if request.username == "slow" then
    h:query("SELECT id AS `+marker+` FROM `+table+` WHERE id = 1 FOR UPDATE")
  end
  assert(h:query("SELECT 1"))
  assert(h:exec("DO 1"))
  assert(h:stmt("SELECT ?"))
  local _, err = h:query("SELECT * FROM no_such_table_here")
  assert(err ~= nil)
  `+acceptReturn+`
end`)}})
}

// processListHas reports whether another session runs a statement
// containing marker.
func processListHas(t *testing.T, watch *sql.DB, marker string) bool {
	t.Helper()
	var n int
	err := watch.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND INFO LIKE CONCAT('%', ?, '%')", marker).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n > 0
}

// waitQueryGone polls the process list until no statement contains
// marker, for at most 10 seconds (the lock wait lasts 50).
func waitQueryGone(t *testing.T, watch *sql.DB, marker string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); processListHas(t, watch, marker); {
		if time.Now().After(deadline) {
			t.Fatalf("the abandoned query %s still runs on the server", marker)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitQuerySeen polls the process list until a statement contains marker.
func waitQuerySeen(t *testing.T, watch *sql.DB, marker string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !processListHas(t, watch, marker); {
		if time.Now().After(deadline) {
			t.Fatalf("the query %s never ran", marker)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// lockedRow opens a watching connection to m, makes a one-row table and
// holds that row's lock in a transaction the caller rolls back: a query
// for the row then waits (innodb_lock_wait_timeout, 50 s), as a slow
// query would, until it is killed.
func lockedRow(t *testing.T, m mariaDB) (watch *sql.DB, table string, holder *sql.Tx) {
	t.Helper()
	watch, err := sql.Open("mysql", m.dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { watch.Close() })
	table = dbTable(t)
	for _, q := range []string{"CREATE TABLE IF NOT EXISTS " + table + " (id INT PRIMARY KEY) ENGINE=InnoDB",
		"INSERT IGNORE INTO " + table + " VALUES (1)"} {
		if _, err := watch.ExecContext(t.Context(), q); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { _, _ = watch.ExecContext(context.Background(), "DROP TABLE IF EXISTS "+table) })
	holder, err = watch.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := holder.ExecContext(t.Context(), "SELECT id FROM "+table+" WHERE id = 1 FOR UPDATE"); err != nil {
		holder.Rollback()
		t.Fatal(err)
	}
	return watch, table, holder
}
