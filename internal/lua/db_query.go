package lua

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"math"
	"time"

	glua "github.com/yuin/gopher-lua"
)

// maxDBArgs bounds the values one query binds (MySQL's own limit is 65535
// placeholders).
const maxDBArgs = 1000

// dbRowCost is what a row's table costs besides its values.
const dbRowCost = luaListCost

// dbQuery is handle:query(sql, args...) -> {columns = {...}, rows = {{...}}}, nil
// or nil, err. A NULL is a hole in its row (row[i] == nil).
func dbQuery(r *scriptRun, L *glua.LState) int {
	h := dbSelf(L, "query")
	return r.dbRows(L, h, L.CheckString(2), dbArgs(L, 3), h.readOnly || r.dryRun(), "query")
}

// dbCommand is handle:command(sql, args...): query outside any transaction
// (gopher-lua-libs runs query in one), for statements such as SET; its
// result is query's. In a dry run it is a read-only transaction too.
func dbCommand(r *scriptRun, L *glua.LState) int {
	h := dbSelf(L, "command")
	return r.dbRows(L, h, L.CheckString(2), dbArgs(L, 3), r.dryRun(), "command")
}

// dbExec is handle:exec(sql, args...) -> {rows_affected = n, last_insert_id = n}, nil
// or nil, err (a field the driver cannot tell is absent: PostgreSQL has
// no last_insert_id).
func dbExec(r *scriptRun, L *glua.LState) int {
	h := dbSelf(L, "exec")
	return r.dbExec(L, h, L.CheckString(2), dbArgs(L, 3), "exec")
}

// dbDryExec answers an exec a dry run did not send: nothing was changed.
func dbDryExec(_ *scriptRun, L *glua.LState) int {
	if ud, ok := L.Get(1).(*glua.LUserData); !ok || ud.Value == nil {
		L.RaiseError("db: call exec as a method (handle:exec(...) or stmt:exec(...))")
	}
	t := L.CreateTable(0, 1)
	t.RawSetString("rows_affected", glua.LNumber(0))
	L.Push(t)
	L.Push(glua.LNil)
	return 2
}

// dbPrepare is handle:stmt(sql) -> stmt, nil or nil, err. The statement is
// prepared once on the server to check it, then closed: a server-side
// statement belongs to one pooled connection, and one a script forgot to
// close would stay there. stmt:query and stmt:exec send the SQL with
// their arguments as handle:query and handle:exec do (the driver binds
// them as parameters either way).
func dbPrepare(r *scriptRun, L *glua.LState) int {
	h := dbSelf(L, "stmt")
	query := L.CheckString(2)
	if h.closed {
		return pushNilErr(L, "db: the handle is closed")
	}
	err := r.dbWait("handle:stmt", func(ctx context.Context) error {
		return dbOnConn(ctx, h.pool, false, func(conn *sql.Conn) error {
			st, err := conn.PrepareContext(ctx, query)
			if err == nil {
				err = st.Close()
			}
			return err
		})
	})
	if err != nil {
		return r.pushDBError(L, h, err)
	}
	ud := L.NewUserData()
	ud.Value = &dbStmt{h: h, query: query}
	ud.Metatable = r.vm().dbMeta["stmt"]
	L.Push(ud)
	L.Push(glua.LNil)
	return 2
}

func dbStmtQuery(r *scriptRun, L *glua.LState) int {
	s := dbStmtSelf(L, "query")
	if s.closed {
		return pushNilErr(L, "db: the statement is closed")
	}
	return r.dbRows(L, s.h, s.query, dbArgs(L, 2), s.h.readOnly || r.dryRun(), "stmt:query")
}

func dbStmtExec(r *scriptRun, L *glua.LState) int {
	s := dbStmtSelf(L, "exec")
	if s.closed {
		return pushNilErr(L, "db: the statement is closed")
	}
	return r.dbExec(L, s.h, s.query, dbArgs(L, 2), "stmt:exec")
}

// dbArgs converts the arguments from position n on to SQL parameters:
// nil is NULL, booleans, strings and numbers bind as themselves (an
// integral number as an integer). Anything else raises: a table has no
// SQL value.
func dbArgs(L *glua.LState, n int) []any {
	top := L.GetTop()
	if top-n+1 > maxDBArgs {
		L.RaiseError("db: at most %d query arguments, got %d", maxDBArgs, top-n+1)
	}
	args := make([]any, 0, max(top-n+1, 0))
	for i := n; i <= top; i++ {
		v, ok := dbArg(L.Get(i))
		if !ok {
			L.ArgError(i, "a "+L.Get(i).Type().String()+" cannot be a query argument (nil, booleans, numbers and strings can)")
		}
		args = append(args, v)
	}
	return args
}

func dbArg(v glua.LValue) (any, bool) {
	switch x := v.(type) {
	case *glua.LNilType:
		return nil, true
	case glua.LBool:
		return bool(x), true
	case glua.LString:
		return string(x), true
	case glua.LNumber:
		f := float64(x)
		if f == math.Trunc(f) && math.Abs(f) <= 1<<53 {
			return int64(f), true
		}
		return f, true
	}
	return nil, false
}

// dbWait runs fn under the run's context (its script_timeout and
// cancellation): database/sql and both drivers abandon a query whose
// context ends (and dbOnConn has MySQL kill it). The watchdog does not measure the run meanwhile (the
// results are charged as they are built).
func (r *scriptRun) dbWait(what string, fn func(ctx context.Context) error) error {
	if err := r.ctx.Err(); err != nil {
		return err
	}
	end := r.waiting()
	err := fn(r.ctx)
	end()
	if err != nil && r.ctx.Err() != nil {
		r.timedOutIn = "db " + what
	}
	return err
}

// pushDBError returns nil, "db: <error>" without the DSN's password (nor
// the request's).
func (r *scriptRun) pushDBError(L *glua.LState, h *dbHandle, err error) int {
	return pushNilErr(L, "db: "+r.redact(redactSecret(err.Error(), h.pool.password)))
}

// dbRows runs a query and builds its result. readOnly runs it in a
// read-only transaction that is rolled back (handles opened with
// read_only, and every query of a dry run: a SELECT can still call a
// function that writes).
func (r *scriptRun) dbRows(L *glua.LState, h *dbHandle, query string, args []any, readOnly bool, what string) int {
	if h.closed {
		return pushNilErr(L, "db: the handle is closed")
	}
	var result *glua.LTable
	sealed := readOnly && r.dryRun() && h.pool.driver == "mysql"
	err := r.dbWait(what, func(ctx context.Context) error {
		return dbOnConn(ctx, h.pool, sealed, func(conn *sql.Conn) error {
			var rows *sql.Rows
			var err error
			if readOnly {
				if sealed {
					if err := dbSealSession(ctx, conn); err != nil {
						return err
					}
				}
				var tx *sql.Tx
				if tx, err = conn.BeginTx(ctx, &sql.TxOptions{ReadOnly: true}); err != nil {
					return err
				}
				defer tx.Rollback()
				if rows, err = tx.QueryContext(ctx, query, args...); err != nil {
					return err
				}
			} else if rows, err = conn.QueryContext(ctx, query, args...); err != nil {
				return err
			}
			defer rows.Close()
			result, err = r.dbResult(L, h, rows)
			return err
		})
	})
	if err != nil {
		return r.pushDBError(L, h, err)
	}
	L.Push(result)
	L.Push(glua.LNil)
	return 2
}

// dbSealSession makes the session of a dry run's MySQL connection
// read-only. A read-only transaction alone does not keep MySQL and MariaDB
// from writing: DDL (CREATE, DROP, TRUNCATE, RENAME, ...) commits the
// transaction implicitly and then runs in autocommit mode, where a session
// that is read-only refuses it. The script's statement may make the
// session writable again (SET SESSION TRANSACTION READ WRITE), so the
// connection is never reused: dbOnConn discards it.
func dbSealSession(ctx context.Context, conn *sql.Conn) error {
	_, err := conn.ExecContext(ctx, "SET SESSION TRANSACTION READ ONLY")
	return err
}

// dbDiscard closes conn's connection instead of returning it to the pool.
func dbDiscard(conn *sql.Conn) {
	_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	conn.Close()
}

// errTooManyRows ends a result longer than lua.config.db.max_rows.
type errTooManyRows int

func (e errTooManyRows) Error() string {
	return fmt.Sprintf("the result has more than %d rows (lua.config.db.max_rows); add a LIMIT", int(e))
}

// dbResult reads rows into {columns = {...}, rows = {...}}. Each row is
// charged to the run's max_memory when the driver has read it and before
// any Lua value is made of it: a result too large for the budget stops
// the run (a raise the deferred closes survive) instead of the daemon.
func (r *scriptRun) dbResult(L *glua.LState, h *dbHandle, rows *sql.Rows) (*glua.LTable, error) {
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	size := 0
	for _, c := range cols {
		size += len(c)
	}
	chargeReply(r, L, size+2*dbRowCost+luaHashCost, len(cols))
	columns := L.CreateTable(len(cols), 0)
	for _, c := range cols {
		columns.Append(glua.LString(c))
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	list := L.CreateTable(0, 0)
	n := 0
	for rows.Next() {
		if n >= h.maxRows {
			return nil, errTooManyRows(h.maxRows)
		}
		clear(vals)
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		size := dbRowCost
		for _, v := range vals {
			size += dbValueSize(v)
		}
		chargeReply(r, L, size, len(cols)+1)
		row := L.CreateTable(len(cols), 0)
		for i, v := range vals {
			if v != nil {
				row.RawSetInt(i+1, dbValue(v))
			}
		}
		list.Append(row)
		n++
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	result := L.CreateTable(0, 2)
	result.RawSetString("columns", columns)
	result.RawSetString("rows", list)
	return result, nil
}

// dbValue is a column value as Lua sees it, as gopher-lua-libs converts
// it: numbers, booleans and text as themselves, bytes as a string, a time
// as Unix seconds (a number with a fraction); any other type as its text.
func dbValue(v any) glua.LValue {
	switch x := v.(type) {
	case int64:
		return glua.LNumber(x)
	case float64:
		return glua.LNumber(x)
	case float32:
		return glua.LNumber(x)
	case uint64:
		return glua.LNumber(x)
	case int32:
		return glua.LNumber(x)
	case bool:
		return glua.LBool(x)
	case []byte:
		return glua.LString(x)
	case string:
		return glua.LString(x)
	case time.Time:
		return glua.LNumber(float64(x.UnixNano()) / float64(time.Second))
	}
	return glua.LString(fmt.Sprint(v))
}

func dbValueSize(v any) int {
	switch x := v.(type) {
	case []byte:
		return len(x) + luaBoxCost
	case string:
		return len(x) + luaBoxCost
	case nil:
		return 0
	}
	return luaBoxCost + 32
}

// dbExec runs a statement that returns no rows.
func (r *scriptRun) dbExec(L *glua.LState, h *dbHandle, query string, args []any, what string) int {
	if h.closed {
		return pushNilErr(L, "db: the handle is closed")
	}
	var res sql.Result
	err := r.dbWait(what, func(ctx context.Context) error {
		return dbOnConn(ctx, h.pool, false, func(conn *sql.Conn) error {
			if !h.readOnly {
				var err error
				res, err = conn.ExecContext(ctx, query, args...)
				return err
			}
			tx, err := conn.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
			if err != nil {
				return err
			}
			defer tx.Rollback()
			if res, err = tx.ExecContext(ctx, query, args...); err != nil {
				return err
			}
			return tx.Commit()
		})
	})
	if err != nil {
		return r.pushDBError(L, h, err)
	}
	t := L.CreateTable(0, 2)
	if id, err := res.LastInsertId(); err == nil {
		t.RawSetString("last_insert_id", glua.LNumber(id))
	}
	if n, err := res.RowsAffected(); err == nil {
		t.RawSetString("rows_affected", glua.LNumber(n))
	}
	L.Push(t)
	L.Push(glua.LNil)
	return 2
}
