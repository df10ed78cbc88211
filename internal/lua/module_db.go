package lua

import (
	glua "github.com/yuin/gopher-lua"
)

// db (gopher-lua-libs, as Nauthilus bundles it for its 1.x Lua password
// backends): SQL through database/sql.
//
//	local db = require("db")
//	local h, err = db.open("mysql", "user:pw@tcp(127.0.0.1:3306)/auth", {shared = true, max_connections = 100})
//	local res, err = h:query("SELECT account, password FROM users WHERE username = ?", request.username)
//	-- res.columns = {"account", "password"}, res.rows = {{"alice@example.com", "$6$..."}}
//	local res, err = h:exec("UPDATE users SET last_login = NOW() WHERE username = ?", request.username)
//	-- res.rows_affected, res.last_insert_id
//	local st, err = h:stmt("SELECT account FROM users WHERE username = ?"); st:query("alice"); st:close()
//	h:command("SET NAMES utf8mb4"); h:close()
//
// The files: module_db.go (the module, the handle and statement objects),
// db_pools.go (pools, DSN parsing and the allow list), db_query.go
// (queries, arguments, results), db_kill.go (KILL QUERY of abandoned
// MySQL queries). Differences from gopher-lua-libs are in
// docs/nauthilus.md ("db").

func init() {
	registerModule(module{
		Name: "db", Filter: true, Password: true, NotGlobal: true,
		Functions: map[string]runFunc{"open": dbOpen},
		Methods: []string{"handle:query", "handle:exec", "handle:command", "handle:stmt", "handle:close",
			"stmt:query", "stmt:exec", "stmt:close"},
		Setup: dbSetup,
	})
}

// Method tables of the handle and statement objects. exec writes: a dry run
// does not send it (dbDryExec) and records it; query, command and a
// statement's query run in a read-only transaction there (db_query.go).
var (
	dbHandleMethods = map[string]runFunc{
		"query":   dbQuery,
		"exec":    sideEffect("db.exec", dbExec, dbDryExec),
		"command": dbCommand,
		"stmt":    dbPrepare,
		"close":   dbClose,
	}
	dbStmtMethods = map[string]runFunc{
		"query": dbStmtQuery,
		"exec":  sideEffect("db.stmt.exec", dbStmtExec, dbDryExec),
		"close": dbStmtClose,
	}
)

// dbSetup builds this state's handle and statement metatables; methods
// are looked up through a Go map, so no script can change them for the
// next request.
func dbSetup(v *vm, _ *glua.LTable) {
	v.dbMeta = map[string]*glua.LTable{}
	for kind, methods := range map[string]map[string]runFunc{"handle": dbHandleMethods, "stmt": dbStmtMethods} {
		names := map[string]glua.LValue{}
		for name, f := range v.functions(methods) {
			names[name] = f
		}
		v.dbMeta[kind] = goIndexMeta(v.L, names, nil)
	}
}

// dbHandle is what db.open returns: a pool (shared by every handle of the
// same DSN) and this handle's own settings.
type dbHandle struct {
	pool     *dbPool
	readOnly bool
	maxRows  int
	closed   bool
}

// dbStmt is what handle:stmt returns.
type dbStmt struct {
	h      *dbHandle
	query  string
	closed bool
}

// dbOpen is db.open(driver, dsn[, config]) -> handle, nil or nil, err.
// config: shared (always true here: one pool per DSN), max_connections
// (capped at lua.config.db.max_open_connections; the first open of a DSN
// sets it), read_only (queries and exec in read-only transactions). Keys of
// the wrong type raise, as in gopher-lua-libs.
func dbOpen(r *scriptRun, L *glua.LState) int {
	driver, dsn := L.CheckString(1), L.CheckString(2)
	maxConns, readOnly := 0, false
	if cfg, ok := L.Get(3).(*glua.LTable); ok {
		switch v := cfg.RawGetString("shared").(type) {
		case glua.LBool, *glua.LNilType:
		default:
			L.ArgError(3, "shared must be a boolean, got "+v.Type().String())
		}
		switch v := cfg.RawGetString("max_connections").(type) {
		case glua.LNumber:
			maxConns = max(int(min(float64(v), 1e6)), 0)
		case *glua.LNilType:
		default:
			L.ArgError(3, "max_connections must be a number, got "+v.Type().String())
		}
		switch v := cfg.RawGetString("read_only").(type) {
		case glua.LBool:
			readOnly = bool(v)
		case *glua.LNilType:
		default:
			L.ArgError(3, "read_only must be a boolean, got "+v.Type().String())
		}
	} else if L.GetTop() >= 3 && L.Get(3) != glua.LNil {
		L.ArgError(3, "config must be a table")
	}
	lim := r.engine.dbLim
	p, err := dbState(r.engine.host).open(driver, dsn, lim, maxConns, r.engine.logger)
	if err != nil {
		return pushNilErr(L, "db.open: "+r.redact(err.Error()))
	}
	ud := L.NewUserData()
	ud.Value = &dbHandle{pool: p, readOnly: readOnly, maxRows: lim.maxRows}
	ud.Metatable = r.vm().dbMeta["handle"]
	L.Push(ud)
	L.Push(glua.LNil)
	return 2
}

// dbSelf is argument 1 of a handle method: the handle, or a Lua error that
// tells how to call it.
func dbSelf(L *glua.LState, method string) *dbHandle {
	return dbReceiver[*dbHandle](L, method, "a handle from db.open", "handle")
}

func dbStmtSelf(L *glua.LState, method string) *dbStmt {
	return dbReceiver[*dbStmt](L, method, "a statement from handle:stmt", "stmt")
}

// dbReceiver is argument 1 as a T, or a Lua error that names what (and
// its variable name in the call) method is to be called on.
func dbReceiver[T any](L *glua.LState, method, what, name string) T {
	if ud, ok := L.Get(1).(*glua.LUserData); ok {
		if v, ok := ud.Value.(T); ok {
			return v
		}
	}
	L.RaiseError("db: call %s as a method of %s (%s:%s(...))", method, what, name, method)
	var zero T
	return zero
}

// dbClose is handle:close(): the handle stops working; the pool, shared
// with every other handle of the DSN, stays.
func dbClose(_ *scriptRun, L *glua.LState) int {
	dbSelf(L, "close").closed = true
	return 0
}

func dbStmtClose(_ *scriptRun, L *glua.LState) int {
	dbStmtSelf(L, "close").closed = true
	return 0
}
