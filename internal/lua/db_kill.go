package lua

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/prometheus/client_golang/prometheus"
)

// MySQL and MariaDB keep executing a query whose client went away:
// go-sql-driver/mysql closes the connection when the run's context ends,
// and the server notices only when the query is done (a SLEEP(30), a
// cross join, a lock wait keep their thread, CPU and locks). PostgreSQL
// (pgx) sends a cancel request instead. backline does what the mysql
// client does on Ctrl-C: it sends KILL QUERY <thread id> on another
// connection. Each pooled MySQL connection learns its server thread id
// (CONNECTION_ID()) once, when it is made (threadIDConnector); a query
// abandoned because the run's context ended discards its connection and
// has the server kill the query (dbPool.killQuery), on a goroutine the
// run does not wait for.

const (
	// dbKillTimeout bounds one KILL QUERY, its connection and login
	// included.
	dbKillTimeout = 3 * time.Second
	// dbMaxKills is how many KILL QUERY may be under way at once in the
	// process: each needs a connection of its own beside the pools, so a
	// storm of timeouts (a slow database, every login abandoning its
	// query) opens at most this many; further abandoned queries are not
	// killed and are counted as skipped.
	dbMaxKills = 4
	// mysqlNoSuchThread is ER_NO_SUCH_THREAD: the thread (and so its
	// query) had already ended when the KILL arrived.
	mysqlNoSuchThread = 1094
)

// Outcomes of an abandoned query's KILL, the result label of
// backline_lua_db_killed_queries_total.
const (
	killKilled  = "killed"  // the server accepted the KILL QUERY
	killGone    = "gone"    // the server no longer had the thread
	killError   = "error"   // the KILL failed: no connection, refused, timed out
	killSkipped = "skipped" // dbMaxKills were under way: not sent
)

var killResults = []string{killKilled, killGone, killError, killSkipped}

// threadIDConn is a MySQL connection that knows its server thread id.
// It embeds the driver connection's interfaces that database/sql uses, so
// database/sql treats it as the driver's own connection.
type threadIDConn struct {
	mysqlDriverConn
	threadID uint64
}

// mysqlDriverConn is what go-sql-driver/mysql's connection implements and
// database/sql looks for (context-aware queries, transactions and
// statements, session reset before reuse, validity, argument conversion).
type mysqlDriverConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.QueryerContext
	driver.ExecerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
	driver.NamedValueChecker
}

func (c *threadIDConn) serverThreadID() uint64 { return c.threadID }

// threadIDConnector makes the pool's connections: the driver's connector,
// then SELECT CONNECTION_ID() once per physical connection. password is
// the DSN's, kept out of its errors.
type threadIDConnector struct {
	driver.Connector
	password string
}

func (c threadIDConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	full, ok := conn.(mysqlDriverConn)
	if !ok { // a driver version without these: its queries are not killed
		return conn, nil
	}
	id, err := queryThreadID(ctx, full)
	if err != nil {
		conn.Close()
		return nil, threadIDError(err, c.password)
	}
	return &threadIDConn{mysqlDriverConn: full, threadID: id}, nil
}

const errNoThreadIDRow = "SELECT CONNECTION_ID() returned no row"

func queryThreadID(ctx context.Context, conn driver.QueryerContext) (uint64, error) {
	rows, err := conn.QueryContext(ctx, "SELECT CONNECTION_ID()", nil)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	dest := make([]driver.Value, 1)
	if err := rows.Next(dest); err != nil {
		if err == io.EOF {
			err = &threadIDAnswerError{errNoThreadIDRow}
		}
		return 0, err
	}
	var text string
	switch v := dest[0].(type) {
	case int64:
		text = strconv.FormatInt(v, 10)
	case uint64:
		text = strconv.FormatUint(v, 10)
	case []byte:
		text = string(v)
	case string:
		text = v
	}
	id, err := strconv.ParseUint(text, 10, 64)
	if err != nil || id == 0 {
		return 0, &threadIDAnswerError{fmt.Sprintf("SELECT CONNECTION_ID() returned %T, not a thread id", dest[0])}
	}
	return id, nil
}

// threadIDAnswerError is an answer to SELECT CONNECTION_ID() that holds
// no thread id.
type threadIDAnswerError struct{ text string }

func (e *threadIDAnswerError) Error() string { return e.text }

// threadIDError explains a failed SELECT CONNECTION_ID(): without a thread
// id no connection is handed out, so every query of the DSN fails with
// this text and it has to say why the statement runs and what to do. Only
// an answer from the other end (an error it sent, or no thread id) gets
// that; a broken connection or an ended context passes as it is
// (database/sql retries driver.ErrBadConn on a fresh connection).
func threadIDError(err error, password string) error {
	var me *mysql.MySQLError
	var answer *threadIDAnswerError
	switch {
	case errors.As(err, &me):
		return &threadIDFailure{err: err, text: redactSecret(fmt.Sprintf(
			"SELECT CONNECTION_ID() failed on a new connection (%v): %s; give the DSN's user the privilege to run it (or lift a "+
				"query rule that blocks it), or point the DSN at the MySQL/MariaDB server itself (a proxy in between, such as ProxySQL or MaxScale, may refuse it "+
				"or answer for another connection than the one the query runs on)", err, whyThreadID), password)}
	case errors.As(err, &answer):
		return &threadIDFailure{err: err, text: redactSecret(fmt.Sprintf(
			"%v: %s; point the DSN at the MySQL/MariaDB server itself (a proxy in between, such as ProxySQL or MaxScale, "+
				"may not answer it as the server does)", err, whyThreadID), password)}
	}
	return err
}

// whyThreadID is why SELECT CONNECTION_ID() runs at all, for its errors.
const whyThreadID = "backline needs each MySQL/MariaDB connection's thread id to KILL QUERY what a script abandons, so no query runs without it"

// threadIDFailure is threadIDError's text; errors.As still finds the
// driver's error (a *mysql.MySQLError) under it.
type threadIDFailure struct {
	err  error
	text string
}

func (e *threadIDFailure) Error() string { return e.text }
func (e *threadIDFailure) Unwrap() error { return e.err }

// connThreadID is the server thread id of conn's connection, 0 when it
// has none (PostgreSQL).
func connThreadID(conn *sql.Conn) uint64 {
	var id uint64
	_ = conn.Raw(func(dc any) error {
		if c, ok := dc.(interface{ serverThreadID() uint64 }); ok {
			id = c.serverThreadID()
		}
		return nil
	})
	return id
}

// dbOnConn runs fn on one connection of p. When fn fails after ctx ended
// (the run's script_timeout, or its caller gave up) on a connection with
// a thread id, the query may still run on the server: the connection is
// closed, never returned to the pool (so no later query can be hit by the
// KILL), and the query is killed without waiting for it. discard closes
// the connection in any case (a dry run's read-only session). The
// connection is given back when fn raises too (a result over the run's
// max_memory stops the run while its rows are read).
//
// A connection the driver finds dead before anything reached the server
// (driver.ErrBadConn: the server closed it while idle) is tried once more
// on a fresh one, as database/sql's own Query and Exec do.
func dbOnConn(ctx context.Context, p *dbPool, discard bool, fn func(conn *sql.Conn) error) error {
	err := dbOnOneConn(ctx, p, discard, fn)
	if errors.Is(err, driver.ErrBadConn) && ctx.Err() == nil {
		err = dbOnOneConn(ctx, p, discard, fn)
	}
	return err
}

func dbOnOneConn(ctx context.Context, p *dbPool, discard bool, fn func(conn *sql.Conn) error) (err error) {
	conn, err := p.db.Conn(ctx)
	if err != nil {
		return err
	}
	id := connThreadID(conn)
	abandoned := false
	defer func() {
		if discard || abandoned {
			dbDiscard(conn)
		} else {
			conn.Close()
		}
		if abandoned {
			p.killQuery(id)
		}
	}()
	err = fn(conn)
	abandoned = err != nil && ctx.Err() != nil && id != 0
	return err
}

// dbKiller bounds and counts the KILL QUERY statements of a Host's pools.
type dbKiller struct {
	slots   chan struct{}
	timeout time.Duration
	counts  map[string]*atomic.Int64
	// waiting makes concurrent waits take turns: two holding part of the
	// slots each would wait for each other forever.
	waiting sync.Mutex
}

func newDBKiller(reg prometheus.Registerer, slots int) *dbKiller {
	k := &dbKiller{slots: make(chan struct{}, slots), timeout: dbKillTimeout, counts: map[string]*atomic.Int64{}}
	for _, result := range killResults {
		n := &atomic.Int64{}
		k.counts[result] = n
		if reg != nil {
			// Registered once per Host; a second Host on the same
			// registry (tests) keeps the first one's series.
			_ = reg.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name:        "backline_lua_db_killed_queries_total",
				Help:        "MySQL/MariaDB queries of Lua scripts abandoned at the run's deadline, by what their KILL QUERY did: killed, gone (the query had ended), error (the KILL failed), skipped (too many KILLs under way).",
				ConstLabels: prometheus.Labels{"result": result},
			}, func() float64 { return float64(n.Load()) }))
		}
	}
	return k
}

func (k *dbKiller) count(result string) int64 { return k.counts[result].Load() }

// wait returns when no KILL is under way (CloseDBPools, tests): it takes
// every slot, so it waits for those held, and a query abandoned meanwhile
// is skipped rather than started (a WaitGroup's Wait may not race the
// Add of a KILL from a run still going at shutdown).
func (k *dbKiller) wait() {
	k.waiting.Lock()
	defer k.waiting.Unlock()
	for range cap(k.slots) {
		k.slots <- struct{}{}
	}
	for range cap(k.slots) {
		<-k.slots
	}
}

// killQuery has the server kill the query of thread id, on a connection
// of its own made by p's kill connector, unless dbMaxKills are under way.
// It does not wait for the KILL.
func (p *dbPool) killQuery(id uint64) {
	k := p.killer
	if k == nil || p.killConn == nil {
		return
	}
	select {
	case k.slots <- struct{}{}:
	default:
		k.counts[killSkipped].Add(1)
		p.logger().Debug("db: an abandoned query is not killed: too many KILL QUERY under way", "thread_id", id)
		return
	}
	go func() {
		defer func() { <-k.slots }() // after the count and the log line: wait sees them
		ctx, cancel := context.WithTimeout(context.Background(), k.timeout)
		defer cancel()
		result, err := killThreadQuery(ctx, p.killConn, id)
		k.counts[result].Add(1)
		if err == nil {
			return
		}
		if ok, held := p.killWarn.allow(); ok {
			p.logger().Warn("db: KILL QUERY of an abandoned query failed; the server may keep running it until it ends (max_statement_time bounds it); "+
				"this DSN's further failures are logged once a minute, suppressed counts those held back since its last line",
				"thread_id", id, "error", redactSecret(err.Error(), p.password), "suppressed", held)
		}
	}()
}

// killThreadQuery sends KILL QUERY id on a new connection of c.
func killThreadQuery(ctx context.Context, c driver.Connector, id uint64) (string, error) {
	conn, err := c.Connect(ctx)
	if err != nil {
		return killError, err
	}
	defer conn.Close()
	ex, ok := conn.(driver.ExecerContext)
	if !ok {
		return killError, errors.New("the driver's connection cannot execute statements")
	}
	_, err = ex.ExecContext(ctx, "KILL QUERY "+strconv.FormatUint(id, 10), nil)
	var me *mysql.MySQLError
	switch {
	case err == nil:
		return killKilled, nil
	case errors.As(err, &me) && me.Number == mysqlNoSuchThread:
		return killGone, nil
	}
	return killError, err
}

func (p *dbPool) logger() *slog.Logger {
	if p.log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.log
}
