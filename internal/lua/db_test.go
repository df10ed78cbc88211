package lua

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/testfixture"
)

// mariaDB is the fixture's MariaDB: its address, a DSN for the test user
// and a configuration that allows it. Tests need it unless BACKLINE_SHORT=1.
type mariaDB struct {
	addr, dsn, password string
	cfg                 config.LuaConfig
}

func fixtureMariaDB(t *testing.T) mariaDB {
	t.Helper()
	fx := testfixture.Load(t)
	m := mariaDB{addr: fx.Addr("MARIADB"), password: fx.Get("MARIADB_PASSWORD")}
	m.dsn = fmt.Sprintf("%s:%s@tcp(%s)/%s", fx.Get("MARIADB_USER"), m.password, m.addr, fx.Get("MARIADB_DATABASE"))
	m.cfg = dbAllow(m.addr)
	return m
}

// dbTable is a table name of this test's own (tests share the database).
func dbTable(t *testing.T) string {
	return "t_" + strings.ToLower(regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "_"))
}

func TestDBMariaDBCorpus(t *testing.T) {
	m := fixtureMariaDB(t)
	src, err := readModuleScript("db_mariadb.lua", map[string]string{"DSN": m.dsn, "TABLE": dbTable(t)})
	if err != nil {
		t.Fatal(err)
	}
	out, err, logs := runOne(t, src, engineSetup{cfg: m.cfg})
	if err != nil {
		t.Fatalf("%v\n%s", err, logs)
	}
	if out == nil || strings.Contains(logs.String(), m.password) {
		t.Errorf("outcome %v; password in the logs: %v", out, strings.Contains(logs.String(), m.password))
	}
}

// A wrong password, a refused connection and a missing database come back
// as errors that show neither the DSN's password nor the request's.
func TestDBConnectionErrorsHideThePassword(t *testing.T) {
	m := fixtureMariaDB(t)
	wrong := strings.Replace(m.dsn, m.password, dbTestSecret, 1)
	for _, c := range []struct{ dsn, want string }{
		{wrong, "Access denied"},
		{strings.Replace(m.dsn, "/backline", "/no_such_db", 1), "Access denied"},
	} {
		out, err, logs := runOne(t, `local db = require("db")
function nauthilus_call_filter(request)
  local h = assert(db.open("mysql", "`+c.dsn+`"))
  local res, err = h:query("SELECT 1")
  assert(res == nil)
  nauthilus_builtin.custom_log_add("err", err)
  `+acceptReturn+`
end`, engineSetup{cfg: m.cfg})
		if err != nil {
			t.Fatal(err)
		}
		v, _ := logValue(out, "err")
		text := fmt.Sprint(v)
		if !strings.Contains(text, c.want) {
			t.Errorf("error %q, want %q", text, c.want)
		}
		for _, secret := range []string{dbTestSecret, m.password, "s3cret-Passw0rd"} {
			if strings.Contains(text, secret) || strings.Contains(logs.String(), secret) {
				t.Errorf("error %q or the logs show a password", text)
			}
		}
	}
}

// A result larger than the run's max_memory stops the run while its rows
// are read, before they become Lua values; the pool stays usable.
func TestDBHugeResultStopsTheRun(t *testing.T) {
	m := fixtureMariaDB(t)
	cfg := m.cfg
	cfg.MaxMemory = config.MinLuaMaxMemory
	e, _ := newEngine(t, engineSetup{cfg: cfg, filters: []config.LuaFilter{filter(t, "f", `local db = require("db")
function nauthilus_call_filter(request)
  local h = assert(db.open("mysql", "`+m.dsn+`"))
  if request.username == "big" then
    -- 2000 rows of 4 KiB: 8 MiB against a 1 MiB budget.
    local res, err = h:query("SELECT seq, REPEAT('x', 4096) FROM seq_1_to_2000")
    error("not stopped: " .. tostring(err))
  end
  local res = assert(h:query("SELECT 42"))
  assert(res.rows[1][1] == 42)
  `+acceptReturn+`
end`)}})
	_, err := e.RunFilters(t.Context(), &Request{Username: "big"})
	var se *ScriptError
	if !errors.As(err, &se) || !se.Memory {
		t.Fatalf("want a memory stop, got %v", err)
	}
	if _, err := e.RunFilters(t.Context(), &Request{Username: "small"}); err != nil {
		t.Fatalf("the pool after a stopped run: %v", err)
	}
}

// max_rows ends a long result with an error the script sees.
func TestDBMaxRows(t *testing.T) {
	m := fixtureMariaDB(t)
	cfg := m.cfg
	cfg.DB.MaxRows = 5
	out, err, _ := runOne(t, `local db = require("db")
function nauthilus_call_filter(request)
  local h = assert(db.open("mysql", "`+m.dsn+`"))
  local ok = assert(h:query("SELECT seq FROM seq_1_to_5"))
  assert(#ok.rows == 5)
  local res, err = h:query("SELECT seq FROM seq_1_to_6")
  assert(res == nil)
  nauthilus_builtin.custom_log_add("err", err)
  `+acceptReturn+`
end`, engineSetup{cfg: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := logValue(out, "err"); !strings.Contains(fmt.Sprint(v), "more than 5 rows (lua.config.db.max_rows)") {
		t.Errorf("error %v", v)
	}
}

// A query slower than script_timeout ends with the run, which names it.
func TestDBSlowQueryHitsTheDeadline(t *testing.T) {
	m := fixtureMariaDB(t)
	cfg := m.cfg
	cfg.ScriptTimeout = 300 * time.Millisecond
	e, _ := newEngine(t, engineSetup{cfg: cfg, filters: []config.LuaFilter{filter(t, "f", `local db = require("db")
function nauthilus_call_filter(request)
  local h = assert(db.open("mysql", "`+m.dsn+`"))
  if request.username == "slow" then
    h:query("SELECT SLEEP(30)")
  end
  assert(h:query("SELECT 1"))
  `+acceptReturn+`
end`)}})
	_, err := e.RunFilters(t.Context(), &Request{Username: "slow"})
	var se *ScriptError
	if !errors.As(err, &se) || !se.Timeout || !strings.Contains(err.Error(), "db query") {
		t.Fatalf("want a timeout in the db query, got %v", err)
	}
	if _, err := e.RunFilters(t.Context(), &Request{Username: "fast"}); err != nil {
		t.Fatalf("after the timeout: %v", err)
	}
}

// A dry run sends no exec and runs queries in a read-only transaction; it
// reports the skipped writes.
func TestDBDryRun(t *testing.T) {
	m := fixtureMariaDB(t)
	table := dbTable(t)
	e, _ := newEngine(t, engineSetup{cfg: m.cfg, filters: []config.LuaFilter{filter(t, "f", `local db = require("db")
function nauthilus_call_filter(request)
  local h = assert(db.open("mysql", "`+m.dsn+`"))
  if request.username == "setup" then
    assert(h:command("CREATE TABLE IF NOT EXISTS `+table+` (n INT)"))
    assert(h:command("DELETE FROM `+table+`"))
    `+acceptReturn+`
  end
  local res, err = h:exec("INSERT INTO `+table+` VALUES (1)")
  assert(err == nil and res.rows_affected == 0 and res.last_insert_id == nil, tostring(err))
  local st = assert(h:stmt("INSERT INTO `+table+` VALUES (?)"))
  assert(st:exec(2).rows_affected == 0)
  local q, qerr = h:query("INSERT INTO `+table+` VALUES (3)")
  nauthilus_builtin.custom_log_add("query_write", tostring(qerr))
  local c = assert(h:query("SELECT COUNT(*) FROM `+table+`"))
  nauthilus_builtin.custom_log_add("count", c.rows[1][1])
  `+acceptReturn+`
end`)}})
	t.Cleanup(func() { dropTable(t, m, table) })
	if _, err := e.RunFilters(t.Context(), &Request{Username: "setup"}); err != nil {
		t.Fatal(err)
	}
	out, err := e.RunFilters(t.Context(), &Request{Username: "alice", DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := logValue(out, "count"); fmt.Sprint(v) != "0" {
		t.Errorf("rows after a dry run: %v", v)
	}
	if v, _ := logValue(out, "query_write"); !strings.Contains(fmt.Sprint(v), "READ ONLY") {
		t.Errorf("a write through query in a dry run: %v", v)
	}
	if !slices.Contains(out.Suppressed, "f: db.exec") || !slices.Contains(out.Suppressed, "f: db.stmt.exec") {
		t.Errorf("suppressed %q", out.Suppressed)
	}
}

// A dry run's query cannot write through MySQL's implicit commit: DDL
// ends a read-only transaction and would run in autocommit mode (measured:
// CREATE TABLE and DROP TABLE went through). Nor can the script make the
// session writable for a later query, and the pool stays writable for
// runs that are not dry.
func TestDBDryRunDDL(t *testing.T) {
	m := fixtureMariaDB(t)
	table := dbTable(t)
	e, _ := newEngine(t, engineSetup{cfg: m.cfg, filters: []config.LuaFilter{filter(t, "f", `local db = require("db")
function nauthilus_call_filter(request)
  local h = assert(db.open("mysql", "`+m.dsn+`"))
  if request.username == "real" then
    assert(h:command("CREATE TABLE `+table+`_real (n INT)"))
    assert(h:exec("INSERT INTO `+table+`_real VALUES (1)"))
    assert(h:command("DROP TABLE `+table+`_real"))
    `+acceptReturn+`
  end
  local _, err = h:query("CREATE TABLE `+table+` (n INT)")
  nauthilus_builtin.custom_log_add("create", tostring(err))
  h:command("SET SESSION TRANSACTION READ WRITE")
  local _, err = h:command("CREATE TABLE `+table+` (n INT)")
  nauthilus_builtin.custom_log_add("after_set", tostring(err))
  local res = assert(h:query("SELECT COUNT(*) FROM information_schema.tables WHERE table_name = ?", "`+table+`"))
  nauthilus_builtin.custom_log_add("tables", res.rows[1][1])
  `+acceptReturn+`
end`)}})
	t.Cleanup(func() { dropTable(t, m, table); dropTable(t, m, table+"_real") })
	out, err := e.RunFilters(t.Context(), &Request{Username: "alice", DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"create", "after_set"} {
		if v, _ := logValue(out, k); !strings.Contains(fmt.Sprint(v), "READ ONLY") {
			t.Errorf("%s: DDL in a dry run: %v", k, v)
		}
	}
	if v, _ := logValue(out, "tables"); fmt.Sprint(v) != "0" {
		t.Errorf("tables made by a dry run: %v", v)
	}
	if _, err := e.RunFilters(t.Context(), &Request{Username: "real"}); err != nil {
		t.Fatalf("writes after a dry run: %v", err)
	}
}

// A handle opened read_only runs exec in a read-only transaction: the
// server refuses the write.
func TestDBReadOnlyHandle(t *testing.T) {
	m := fixtureMariaDB(t)
	out, err, _ := runOne(t, `local db = require("db")
function nauthilus_call_filter(request)
  local h = assert(db.open("mysql", "`+m.dsn+`", {read_only = true}))
  local res, err = h:exec("CREATE TEMPORARY TABLE x (n INT)")
  local _, err2 = h:exec("UPDATE users SET display_name = 'x' WHERE username = 'nobody'")
  nauthilus_builtin.custom_log_add("err", tostring(err2))
  assert(h:query("SELECT COUNT(*) FROM users").rows[1][1] >= 2)
  `+acceptReturn+`
end`, engineSetup{cfg: m.cfg})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := logValue(out, "err"); !strings.Contains(fmt.Sprint(v), "READ ONLY") {
		t.Errorf("exec on a read-only handle: %v", v)
	}
}

func dropTable(t *testing.T, m mariaDB, table string) {
	_, _, _ = runOne(t, `local db = require("db")
function nauthilus_call_filter(request)
  local h = assert(db.open("mysql", "`+m.dsn+`"))
  h:command("DROP TABLE IF EXISTS `+table+`")
  `+acceptReturn+`
end`, engineSetup{cfg: m.cfg})
}

// A Unix socket is reachable once its path is listed.
func TestDBUnixSocket(t *testing.T) {
	fx := testfixture.Load(t)
	sock := fx.Get("MARIADB_SOCKET")
	dsn := fmt.Sprintf("%s:%s@unix(%s)/%s", fx.Get("MARIADB_USER"), fx.Get("MARIADB_PASSWORD"), sock, fx.Get("MARIADB_DATABASE"))
	out, err, _ := runOne(t, `local db = require("db")
function nauthilus_call_filter(request)
  local h = assert(db.open("mysql", "`+dsn+`"))
  local res, err = h:query("SELECT account FROM users WHERE username = ?", "alice")
  nauthilus_builtin.custom_log_add("account", res and res.rows[1][1] or err)
  `+acceptReturn+`
end`, engineSetup{cfg: dbAllow(sock)})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := logValue(out, "account"); fmt.Sprint(v) != "alice@backline.test" {
		t.Errorf("account %v", v)
	}
}
