package lua

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/prometheus/client_golang/prometheus"
)

// The bookkeeping of killing abandoned MySQL queries, against fake
// drivers: which queries are killed, on which connection, how many KILLs
// at once, and what a failed KILL logs. db_kill_mariadb_test.go checks
// the real server.

// killRecorder is a kill connector: it records each KILL statement. Its
// connections wait for hold (when set) before connecting, and then fail
// with connectErr or execErr when set.
type killRecorder struct {
	hold       chan struct{}
	entered    chan struct{}
	connectErr error
	execErr    error

	mu         sync.Mutex
	statements []string
}

func (k *killRecorder) Connect(ctx context.Context) (driver.Conn, error) {
	if k.entered != nil {
		k.entered <- struct{}{}
	}
	if k.hold != nil {
		select {
		case <-k.hold:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if k.connectErr != nil {
		return nil, k.connectErr
	}
	return killRecorderConn{k}, nil
}

func (k *killRecorder) Driver() driver.Driver { return nil }

func (k *killRecorder) sent() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.statements)
}

type killRecorderConn struct{ k *killRecorder }

func (c killRecorderConn) Prepare(string) (driver.Stmt, error) {
	return nil, errors.New("not supported")
}
func (c killRecorderConn) Close() error              { return nil }
func (c killRecorderConn) Begin() (driver.Tx, error) { return nil, errors.New("not supported") }
func (c killRecorderConn) ExecContext(_ context.Context, q string, _ []driver.NamedValue) (driver.Result, error) {
	c.k.mu.Lock()
	c.k.statements = append(c.k.statements, q)
	c.k.mu.Unlock()
	return driver.RowsAffected(0), c.k.execErr
}

// fakeThreadConnector makes pool connections numbered from 1 (their thread
// ids). Their query "slow" signals entered and waits for its context,
// "fail" fails at once, anything else returns no rows.
type fakeThreadConnector struct {
	entered chan struct{}
	made    atomic.Uint64
	closed  sync.Map // thread id -> true
}

func (c *fakeThreadConnector) Connect(context.Context) (driver.Conn, error) {
	return &fakeThreadConn{c: c, id: c.made.Add(1)}, nil
}

func (c *fakeThreadConnector) Driver() driver.Driver { return nil }

func (c *fakeThreadConnector) isClosed(id uint64) bool {
	_, ok := c.closed.Load(id)
	return ok
}

type fakeThreadConn struct {
	c  *fakeThreadConnector
	id uint64
}

func (f *fakeThreadConn) serverThreadID() uint64 { return f.id }
func (f *fakeThreadConn) Prepare(string) (driver.Stmt, error) {
	return nil, errors.New("not supported")
}
func (f *fakeThreadConn) Begin() (driver.Tx, error) { return nil, errors.New("not supported") }
func (f *fakeThreadConn) Close() error {
	f.c.closed.Store(f.id, true)
	return nil
}

func (f *fakeThreadConn) QueryContext(ctx context.Context, q string, _ []driver.NamedValue) (driver.Rows, error) {
	switch q {
	case "slow":
		f.c.entered <- struct{}{}
		<-ctx.Done()
		return nil, ctx.Err()
	case "fail":
		return nil, errors.New("Error 1064: syntax")
	case "stale-first":
		if f.id == 1 {
			return nil, driver.ErrBadConn // closed by the server while idle
		}
	}
	return emptyRows{}, nil
}

type emptyRows struct{}

func (emptyRows) Columns() []string           { return []string{"n"} }
func (emptyRows) Close() error                { return nil }
func (emptyRows) Next(_ []driver.Value) error { return io.EOF }

// fakeKillPool is a pool over fakeThreadConnector whose KILLs go to kills.
func fakeKillPool(t *testing.T, slots int, kills *killRecorder) (*dbPool, *fakeThreadConnector, *syncBuffer) {
	t.Helper()
	conns := &fakeThreadConnector{entered: make(chan struct{})}
	db := sql.OpenDB(conns)
	db.SetMaxIdleConns(2)
	t.Cleanup(func() { db.Close() })
	logs := &syncBuffer{}
	p := &dbPool{db: db, driver: "mysql", password: dbTestSecret, killConn: kills,
		killer: newDBKiller(nil, slots), log: newTestLogger(logs)}
	return p, conns, logs
}

func runOnConn(ctx context.Context, p *dbPool, query string) error {
	return dbOnConn(ctx, p, false, func(conn *sql.Conn) error {
		rows, err := conn.QueryContext(ctx, query)
		if err != nil {
			return err
		}
		return rows.Close()
	})
}

// A query that finishes, or fails on its own, is not killed and its
// connection goes back to the pool; one abandoned when its context ends
// is killed by its connection's thread id, and that connection is closed,
// never reused.
func TestDBKillOnlyAbandonedQueries(t *testing.T) {
	kills := &killRecorder{}
	p, conns, _ := fakeKillPool(t, dbMaxKills, kills)
	for _, q := range []string{"SELECT 1", "fail", "SELECT 2"} {
		err := runOnConn(t.Context(), p, q)
		if (err != nil) != (q == "fail") {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if n := conns.made.Load(); n != 1 {
		t.Errorf("%d connections for three sequential queries; want the pooled one reused", n)
	}

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- runOnConn(ctx, p, "slow") }()
	<-conns.entered
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("the abandoned query: %v", err)
	}
	p.killer.wait()
	if got := kills.sent(); !slices.Equal(got, []string{"KILL QUERY 1"}) {
		t.Errorf("KILLs sent: %q", got)
	}
	if !conns.isClosed(1) {
		t.Error("the killed query's connection is still open")
	}
	if err := runOnConn(t.Context(), p, "SELECT 3"); err != nil {
		t.Fatal(err)
	}
	if conns.made.Load() != 2 {
		t.Errorf("%d connections made; the one after the KILL must be new", conns.made.Load())
	}
	// A context that ended before a connection was had: nothing ran.
	ended, stop := context.WithCancel(t.Context())
	stop()
	if err := runOnConn(ended, p, "SELECT 4"); err == nil {
		t.Error("a query ran on an ended context")
	}
	p.killer.wait()
	if got := len(kills.sent()); got != 1 {
		t.Errorf("%d KILLs after queries that were not abandoned", got)
	}
	if k := p.killer; k.count(killKilled) != 1 || k.count(killSkipped)+k.count(killError)+k.count(killGone) != 0 {
		t.Errorf("counts killed %d skipped %d error %d gone %d", k.count(killKilled), k.count(killSkipped), k.count(killError), k.count(killGone))
	}
}

// A raise inside the query (a memory stop while rows are read) gives the
// connection back, unkilled.
func TestDBOnConnReleasesOnRaise(t *testing.T) {
	kills := &killRecorder{}
	p, _, _ := fakeKillPool(t, dbMaxKills, kills)
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the raise did not propagate")
			}
		}()
		_ = dbOnConn(t.Context(), p, false, func(*sql.Conn) error { panic("memory stop") })
	}()
	if n := p.db.Stats().InUse; n != 0 {
		t.Errorf("%d connections still held after a raise", n)
	}
	p.killer.wait()
	if len(kills.sent()) != 0 {
		t.Errorf("KILLs after a raise: %q", kills.sent())
	}
}

// Only dbMaxKills KILLs are under way at once; the others are skipped and
// counted, and the abandoned run never waits for any of them.
func TestDBKillsAreBounded(t *testing.T) {
	kills := &killRecorder{hold: make(chan struct{}), entered: make(chan struct{}, 10)}
	p, _, logs := fakeKillPool(t, 2, kills)
	for id := range uint64(5) {
		p.killQuery(id + 100) // returns at once although every KILL is held
	}
	<-kills.entered
	<-kills.entered
	if got := p.killer.count(killSkipped); got != 3 {
		t.Errorf("skipped %d, want 3", got)
	}
	close(kills.hold)
	p.killer.wait()
	if got := kills.sent(); len(got) != 2 || !slices.Contains(got, "KILL QUERY 100") || !slices.Contains(got, "KILL QUERY 101") {
		t.Errorf("KILLs sent: %q", got)
	}
	if p.killer.count(killKilled) != 2 {
		t.Errorf("killed %d, want 2", p.killer.count(killKilled))
	}
	// The slots are free again.
	p.killQuery(200)
	p.killer.wait()
	if p.killer.count(killKilled) != 3 {
		t.Errorf("killed %d after the slots were freed, want 3", p.killer.count(killKilled))
	}
	if !strings.Contains(logs.String(), "too many KILL QUERY under way") {
		t.Errorf("no log line for the skipped KILLs:\n%s", logs)
	}
}

// A KILL that fails is counted and logged without the DSN's password; a
// thread the server no longer has is "gone", not an error.
func TestDBKillErrors(t *testing.T) {
	for _, c := range []struct {
		name       string
		kills      *killRecorder
		result     string
		wantLogged bool
	}{
		{"no connection", &killRecorder{connectErr: fmt.Errorf("Error 1045 (28000): Access denied for user 'u' (using password: %s)", dbTestSecret)}, killError, true},
		{"refused", &killRecorder{execErr: &mysql.MySQLError{Number: 1095, Message: "You are not owner of thread 7; " + dbTestSecret}}, killError, true},
		{"gone", &killRecorder{execErr: &mysql.MySQLError{Number: mysqlNoSuchThread, Message: "Unknown thread id: 7"}}, killGone, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, _, logs := fakeKillPool(t, dbMaxKills, c.kills)
			p.killQuery(7)
			p.killer.wait()
			if got := p.killer.count(c.result); got != 1 {
				t.Errorf("%s counted %d times", c.result, got)
			}
			text := logs.String()
			if strings.Contains(text, dbTestSecret) {
				t.Errorf("the password is in the log:\n%s", text)
			}
			if logged := strings.Contains(text, "KILL QUERY of an abandoned query failed"); logged != c.wantLogged {
				t.Errorf("logged %v, want %v:\n%s", logged, c.wantLogged, text)
			}
			if c.wantLogged && !strings.Contains(text, "thread_id=7") {
				t.Errorf("the log line does not name the thread:\n%s", text)
			}
		})
	}
}

// A pool without a kill connector (PostgreSQL, whose driver cancels) or
// without a killer sends nothing.
func TestDBKillNeedsAKillConnector(t *testing.T) {
	p, _, _ := fakeKillPool(t, dbMaxKills, nil)
	p.killConn = nil
	p.killQuery(1)
	p.killer.wait()
	for _, r := range killResults {
		if p.killer.count(r) != 0 {
			t.Errorf("%s counted for a pool that cannot kill", r)
		}
	}
	(&dbPool{}).killQuery(1)
}

// The counts reach the daemon's registry, one series per result, zero
// before any KILL.
func TestDBKillMetricRegistered(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := NewHost()
	h.Registerer = reg
	dbState(h).killer.counts[killGone].Add(2)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		if f.GetName() != "backline_lua_db_killed_queries_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				got[l.GetValue()] = m.GetCounter().GetValue()
			}
		}
	}
	want := map[string]float64{killKilled: 0, killGone: 2, killError: 0, killSkipped: 0}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("series %v, want %v", got, want)
	}
}

// A pooled connection the server closed while idle fails with
// driver.ErrBadConn before anything is sent: the query runs on a fresh
// connection, as database/sql's db.Query would, and nothing is killed.
func TestDBOnConnRetriesADeadConnection(t *testing.T) {
	kills := &killRecorder{}
	p, conns, _ := fakeKillPool(t, 4, kills)
	if err := runOnConn(context.Background(), p, "stale-first"); err != nil {
		t.Fatalf("query on a dead pooled connection: %v, want it run on a fresh one", err)
	}
	if conns.made.Load() != 2 || !conns.isClosed(1) {
		t.Fatalf("connections made %d, first closed %v; want the dead one closed and a second made", conns.made.Load(), conns.isClosed(1))
	}
	p.killer.wait()
	if got := kills.sent(); len(got) != 0 {
		t.Fatalf("KILLs sent: %q", got)
	}
}
