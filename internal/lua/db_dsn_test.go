package lua

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/backline/backline/internal/config"
)

// dbOpenErr runs db.open(driver, dsn[, cfgLua]) in a filter and returns
// the error text it gave (or the run's error).
func dbOpenErr(t *testing.T, cfg config.LuaConfig, driver, dsn, cfgLua string) (string, error, string) {
	t.Helper()
	args := fmt.Sprintf("%q, %q", driver, dsn)
	if cfgLua != "" {
		args += ", " + cfgLua
	}
	out, err, logs := runOne(t, `local db = require("db")
function nauthilus_call_filter(request)
  local h, err = db.open(`+args+`)
  nauthilus_builtin.custom_log_add("err", tostring(err))
  nauthilus_builtin.custom_log_add("handle", h == nil and "nil" or "handle")
  `+acceptReturn+`
end`, engineSetup{cfg: cfg})
	if err != nil {
		return "", err, logs.String()
	}
	v, _ := logValue(out, "err")
	return fmt.Sprint(v), nil, logs.String()
}

func dbAllow(addrs ...string) config.LuaConfig {
	var c config.LuaConfig
	c.DB.AllowedAddresses = addrs
	return c
}

const dbTestSecret = "Zq9-hunter2-never-shown"

// Every hostile DSN is refused before any connection, with a reason that
// never shows the DSN's password.
func TestDBOpenRefusals(t *testing.T) {
	allow := dbAllow("127.0.0.1:3306", "db.example:5432", "/run/mysqld/mysqld.sock")
	for _, c := range []struct {
		name          string
		cfg           config.LuaConfig
		driver, dsn   string
		want          string
		mustNotExpose string
	}{
		{"nothing allowed", config.LuaConfig{}, "mysql", "u:" + dbTestSecret + "@tcp(127.0.0.1:3306)/db",
			"lua.config.db.allowed_addresses is empty", dbTestSecret},
		{"host not allowed", allow, "mysql", "u:" + dbTestSecret + "@tcp(10.1.2.3:3306)/db",
			"10.1.2.3:3306 is not allowed (lua.config.db.allowed_addresses)", dbTestSecret},
		{"port not allowed", allow, "mysql", "u:" + dbTestSecret + "@tcp(127.0.0.1:3307)/db",
			"127.0.0.1:3307 is not allowed", dbTestSecret},
		{"default address is checked", dbAllow("10.0.0.1:3306"), "mysql", "u:" + dbTestSecret + "@/db",
			"127.0.0.1:3306 is not allowed", dbTestSecret},
		{"unlisted unix socket", allow, "mysql", "u:" + dbTestSecret + "@unix(/var/run/other.sock)/db",
			"/var/run/other.sock is not allowed", dbTestSecret},
		{"custom network", allow, "mysql", "u:" + dbTestSecret + "@evilnet(127.0.0.1:3306)/db",
			"network \"evilnet\" is not tcp or unix", dbTestSecret},
		{"allowAllFiles", allow, "mysql", "u:" + dbTestSecret + "@tcp(127.0.0.1:3306)/db?allowAllFiles=true",
			"allowAllFiles", dbTestSecret},
		{"multiStatements", allow, "mysql", "u:" + dbTestSecret + "@tcp(127.0.0.1:3306)/db?multiStatements=true",
			"multiStatements", dbTestSecret},
		{"unparsable mysql", allow, "mysql", "u:" + dbTestSecret + "@tcp(127.0.0.1:3306/db",
			"the mysql DSN does not parse", dbTestSecret},
		{"unknown driver", allow, "sqlite3", "file:test.db", `driver "sqlite3" is not supported by backline (mysql, postgres)`, ""},
		{"huge DSN", allow, "mysql", strings.Repeat("a", maxDSNBytes+1), "longer than 4096 bytes", ""},
		{"postgres host not allowed", allow, "postgres", "postgres://u:" + dbTestSecret + "@10.9.9.9:5432/db",
			"10.9.9.9:5432 is not allowed", dbTestSecret},
		{"postgres fallback not allowed", allow, "postgres", "host=db.example,10.9.9.9 port=5432 user=u password=" + dbTestSecret,
			"10.9.9.9:5432 is not allowed", dbTestSecret},
		{"postgres reads a key file", allow, "postgres", "host=db.example user=u password=" + dbTestSecret + " sslkey=/etc/shadow sslcert=/etc/passwd",
			"the postgres DSN does not parse", dbTestSecret},
		{"postgres service file", allow, "postgres", "postgres://u:" + dbTestSecret + "@db.example/x?service=foo&servicefile=/etc/shadow",
			"may set only host, port", dbTestSecret},
		{"postgres socket dir", allow, "postgres", "host=/tmp user=u password=" + dbTestSecret,
			"/tmp/.s.PGSQL.5432 is not allowed", dbTestSecret},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err, logs := dbOpenErr(t, c.cfg, c.driver, c.dsn, "")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(got, c.want) {
				t.Errorf("error %q, want %q", got, c.want)
			}
			if c.mustNotExpose != "" && (strings.Contains(got, c.mustNotExpose) || strings.Contains(logs, c.mustNotExpose)) {
				t.Errorf("the DSN's password is in %q or the logs", got)
			}
		})
	}
}

// config's keys of the wrong type raise, as in gopher-lua-libs.
func TestDBOpenConfigTypes(t *testing.T) {
	for _, cfg := range []string{`{shared = "yes"}`, `{max_connections = "100"}`, `{read_only = 1}`, `"not a table"`} {
		_, err, _ := dbOpenErr(t, dbAllow("127.0.0.1:3306"), "mysql", "u:p@tcp(127.0.0.1:3306)/db", cfg)
		if err == nil || !strings.Contains(err.Error(), "bad argument #3") {
			t.Errorf("%s: %v", cfg, err)
		}
	}
	got, err, _ := dbOpenErr(t, dbAllow("127.0.0.1:3306"), "mysql", "u:p@tcp(127.0.0.1)/db", `{shared = true, max_connections = 100, read_only = false}`)
	if err != nil || got != "nil" {
		t.Errorf("a valid open (no connection is made yet): %q, %v", got, err)
	}
}

// Methods called wrongly raise errors that say how to call them;
// arguments without an SQL value raise naming their position.
func TestDBMethodMisuse(t *testing.T) {
	for src, want := range map[string]string{
		`h.query("SELECT 1")`:           "call query as a method of a handle",
		`h:query("SELECT ?", {1})`:      "bad argument #3",
		`h:exec("SELECT ?", print)`:     "bad argument #3",
		`h:stmt()`:                      "bad argument #2",
		`h:nonexistent()`:               "attempt to call a non-function object",
		`getmetatable(h).__index = nil`: "non-table object(boolean)",
		`db.query(h, "SELECT 1")`:       "attempt to call a non-function object",
		`h:query("SELECT 1" .. string.rep(", ?", 1001), unpack(big))`: "at most 1000 query arguments",
	} {
		_, err, _ := runOne(t, `local db = require("db")
local big = {}
for i = 1, 1001 do big[i] = i end
function nauthilus_call_filter(request)
  local h = assert(db.open("mysql", "u:p@tcp(127.0.0.1:3306)/db"))
  `+src+`
  `+acceptReturn+`
end`, engineSetup{cfg: dbAllow("127.0.0.1:3306")})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", src, err, want)
		}
	}
}

// A closed handle answers an error, and handles of one DSN share a pool
// whose size the first open decides, capped by max_open_connections.
func TestDBPoolSharedAndBounded(t *testing.T) {
	cfg := dbAllow("127.0.0.1:3306")
	cfg.DB.MaxOpenConnections = 7
	e, _ := newEngine(t, engineSetup{cfg: cfg, filters: []config.LuaFilter{filter(t, "f", `local db = require("db")
function nauthilus_call_filter(request)
  local h = assert(db.open("mysql", "u:p@tcp(127.0.0.1:3306)/db", {max_connections = 100}))
  h:close()
  local res, err = h:query("SELECT 1")
  assert(res == nil and err == "db: the handle is closed", tostring(err))
  `+acceptReturn+`
end`)}})
	for range 3 {
		if _, err := e.RunFilters(t.Context(), &Request{Username: "alice"}); err != nil {
			t.Fatal(err)
		}
	}
	s := dbState(e.host)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.pools) != 1 {
		t.Fatalf("%d pools, want 1", len(s.pools))
	}
	for _, p := range s.pools {
		if got := p.db.Stats().MaxOpenConnections; got != 7 {
			t.Errorf("max open %d, want 7", got)
		}
	}
}

// At most maxDBPools DSNs have a pool; the least recently used goes.
func TestDBPoolsEvicted(t *testing.T) {
	s := &dbHost{pools: map[string]*dbPool{}}
	lim := dbLimits{allowed: []string{"127.0.0.1:3306"}, maxOpen: 2, maxIdle: 1, maxRows: 10}
	var first *dbPool
	for i := range maxDBPools + 3 {
		p, err := s.open("mysql", fmt.Sprintf("u:p@tcp(127.0.0.1:3306)/db%d", i), lim, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = p
		}
	}
	if len(s.pools) != maxDBPools {
		t.Errorf("%d pools", len(s.pools))
	}
	for _, p := range s.pools {
		if p == first {
			t.Error("the oldest pool was kept")
		}
		p.db.Close()
	}
	first.db.Close()
}

// check reports a script that requires db with nothing allowed, and the
// literal DSNs db.open would refuse, without their passwords.
func TestDBWarnings(t *testing.T) {
	dir := t.TempDir()
	writeScriptAt(t, dir, "backend.lua", `local db = require("db")
local ok = db.open("mysql", "u:p@tcp(127.0.0.1)/auth")
local bad = db.open("mysql", "u:`+dbTestSecret+`@tcp(10.0.0.9:3306)/auth", {shared = true})
local odd = db.open('postgres', 'host=/tmp user=u password=`+dbTestSecret+`')
function nauthilus_backend_verify_password(request) end`)
	cfg := &config.Config{Auth: config.Auth{Passdb: []config.Passdb{{Type: config.PassdbLua, ScriptPath: dir + "/backend.lua"}}}}
	got := DBWarnings(cfg)
	if len(got) != 1 || !strings.Contains(got[0], "auth.passdb[0].script_path: the script requires db, but lua.config.db.allowed_addresses is empty") {
		t.Fatalf("nothing allowed: %q", got)
	}
	cfg.Lua.Config.DB.AllowedAddresses = []string{"127.0.0.1:3306"}
	got = DBWarnings(cfg)
	if len(got) != 2 || !strings.Contains(got[0], "line 3: db.open fails: 10.0.0.9:3306 is not allowed") ||
		!strings.Contains(got[1], "line 4: db.open fails: /tmp/.s.PGSQL.5432 is not allowed") {
		t.Fatalf("warnings %q", got)
	}
	if strings.Contains(strings.Join(got, "\n"), dbTestSecret) {
		t.Error("a password in check's output")
	}
}

// FuzzDBDSN: whatever a script passes as a DSN, db.open's error never
// holds the password the driver parsed from it, nor (when the DSN does
// not parse) any four bytes of the DSN, and an accepted DSN connects only
// to allowed addresses.
func FuzzDBDSN(f *testing.F) {
	for _, s := range []string{"u:p@tcp(127.0.0.1:3306)/db", "u:secret@tcp(10.0.0.1)/db?allowAllFiles=true",
		"u:pa:ss@unix(/tmp/mysql.sock)/db", "u:p@tcp([::1]:3306)/db", "u:sec@ret@tcp(127.0.0.1:3306/db",
		"postgres://u:secret@127.0.0.1:3306/db", "host=127.0.0.1,10.0.0.1 password=secret", "postgres://u:sec:ret@h/x",
		"host=/tmp port=3306 password='se cret'", "u:p@tcp(127.0.0.1:3306)/db?tls=custom", ""} {
		f.Add("mysql", s)
		f.Add("postgres", s)
	}
	allowed := []string{"127.0.0.1:3306", "/tmp/mysql.sock"}
	f.Fuzz(func(t *testing.T, driver, dsn string) {
		if driver != "mysql" && driver != "postgres" || len(dsn) > maxDSNBytes {
			return
		}
		p, err := parseDSN(driver, dsn, allowed)
		if err == nil {
			for _, a := range p.addrs {
				if a != allowed[0] && a != allowed[1] {
					t.Fatalf("%q accepted with address %q", dsn, a)
				}
			}
			return
		}
		text := err.Error()
		password, parsed := "", false
		if driver == "mysql" {
			if cfg, err := mysql.ParseDSN(dsn); err == nil {
				password, parsed = cfg.Passwd, true
			}
		} else if cfg, err := pgconn.ParseConfigWithOptions(dsn, pgconn.ParseConfigOptions{ConnStringAllowedKeys: postgresKeys}); err == nil {
			password, parsed = cfg.Password, true
		}
		if parsed {
			if len(password) >= 4 && strings.Contains(text, password) {
				t.Fatalf("%q: error %q shows the password", dsn, text)
			}
			return
		}
		reason := strings.TrimPrefix(strings.TrimPrefix(text, "the "+driver+" DSN does not parse"), ": ")
		if i := strings.Index(reason, " (a postgres DSN may set only"); i >= 0 {
			reason = reason[:i]
		}
		if quotesDSN(reason, dsn) {
			t.Fatalf("%q: error %q quotes the DSN", dsn, text)
		}
	})
}

// The pools live in the Host: an Engine built by a reload reuses the DSN's
// pool, and its own allow list decides whether a script may still use it.
func TestDBPoolOutlivesAReload(t *testing.T) {
	host := NewHost()
	t.Cleanup(host.CloseDBPools)
	src := `local db = require("db")
function nauthilus_call_filter(request)
  local h, err = db.open("mysql", "u:p@tcp(127.0.0.1:3306)/db")
  nauthilus_builtin.custom_log_add("err", tostring(err))
  ` + acceptReturn + `
end`
	run := func(cfg config.LuaConfig) string {
		t.Helper()
		e, err := NewEngine(Options{Config: config.Lua{Filters: []config.LuaFilter{filter(t, "f", src)},
			Config: cfg}, Host: host, Logger: newTestLogger(&syncBuffer{})})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		out, err := e.RunFilters(t.Context(), &Request{Username: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		v, _ := logValue(out, "err")
		return fmt.Sprint(v)
	}
	if got := run(dbAllow("127.0.0.1:3306")); got != "nil" {
		t.Fatalf("first engine: %s", got)
	}
	first := dbState(host).pools
	if got := run(dbAllow("127.0.0.1:3306")); got != "nil" || len(dbState(host).pools) != 1 {
		t.Fatalf("after a reload: %s, %d pools", got, len(dbState(host).pools))
	}
	for k, p := range first {
		if dbState(host).pools[k] != p {
			t.Error("the reload made a new pool")
		}
	}
	if got := run(dbAllow("10.0.0.1:3306")); !strings.Contains(got, "127.0.0.1:3306 is not allowed") {
		t.Errorf("a reload that removed the address: %s", got)
	}
}

// A postgres DSN without a password gets none: not the daemon's
// PGPASSWORD, nor its ~/.pgpass (or PGPASSFILE), which would let a script
// log in as any user the operator stored a password for. Nor is the
// daemon's client certificate (PGSSLCERT/PGSSLKEY, ~/.postgresql) offered.
// A DSN's own password is kept.
func TestDBPostgresIgnoresAmbientCredentials(t *testing.T) {
	home := t.TempDir()
	passfile := home + "/.pgpass"
	if err := os.WriteFile(passfile, []byte("*:*:*:*:"+dbTestSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", home)
	t.Setenv("PGPASSFILE", passfile)
	allowed := []string{"127.0.0.1:5432"}
	for _, env := range []string{"", "from-env-" + dbTestSecret} {
		t.Setenv("PGPASSWORD", env)
		for _, dsn := range []string{"postgres://postgres@127.0.0.1:5432/db", "host=127.0.0.1 user=postgres dbname=db"} {
			p, err := parseDSN("postgres", dsn, allowed)
			if err != nil {
				t.Fatalf("%s: %v", dsn, err)
			}
			if p.password != "" {
				t.Errorf("PGPASSWORD=%q %s: the daemon's password was taken", env, dsn)
			}
			db, _, err := p.connector(nil, dbLimits{})
			if err != nil {
				t.Fatal(err)
			}
			db.Close()
		}
		for _, dsn := range []string{"postgres://postgres:own@127.0.0.1:5432/db", "host=127.0.0.1 user=postgres password=own"} {
			p, err := parseDSN("postgres", dsn, allowed)
			if err != nil || p.password != "own" {
				t.Errorf("PGPASSWORD=%q %s: password %q, %v; want the DSN's", env, dsn, p.password, err)
			}
		}
	}
}

// pgx reads a protocol message whole before a row can be charged to the
// run's max_memory (measured: a query of two 200 MB columns allocated
// 763 MiB against a 1 MiB budget). A message announcing more than the
// budget is refused as its header is read: here a server that announces a
// 256 MiB message at once (and never sends it).
func TestDBPostgresMessageBounded(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				var n [4]byte
				if _, err := io.ReadFull(c, n[:]); err != nil {
					return
				}
				if _, err := io.CopyN(io.Discard, c, int64(binary.BigEndian.Uint32(n[:]))-4); err != nil {
					return
				}
				c.Write([]byte{'R', 0x10, 0, 0, 0}) // a 256 MiB authentication message
				io.Copy(io.Discard, c)              // until the client gives up
			}()
		}
	}()
	addr := ln.Addr().String()
	p, err := parseDSN("postgres", "postgres://u:pw@"+addr+"/db?sslmode=disable&connect_timeout=20", []string{addr})
	if err != nil {
		t.Fatal(err)
	}
	db, _, err := p.connector(nil, dbLimits{maxMessage: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.PingContext(t.Context())
	if err == nil || !strings.Contains(err.Error(), "expected at most 1048576") {
		t.Fatalf("want the message refused, got %v", err)
	}
}

// A MySQL socket path is dialled as it was checked: cleaned. The kernel
// resolves "link/../x" through the link, so dialling the path as written
// would reach another socket than the allowed one (here: none).
func TestDBMySQLSocketDialledAsChecked(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"real", "elsewhere/deep"} {
		if err := os.MkdirAll(dir+"/"+d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(dir+"/elsewhere/deep", dir+"/link"); err != nil {
		t.Fatal(err)
	}
	sock := dir + "/real/s.sock"
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan struct{}, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- struct{}{}
			c.Close()
		}
	}()
	p, err := parseDSN("mysql", "u:pw@unix("+dir+"/link/../real/s.sock)/db?timeout=10s", []string{sock})
	if err != nil {
		t.Fatal(err)
	}
	db, _, err := p.connector(nil, dbLimits{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_ = db.PingContext(t.Context()) // the listener speaks no MySQL: only the dial matters
	select {
	case <-accepted:
	default:
		t.Fatal("the allowed socket was not the one dialled")
	}
}

// A pool with a query under way is never evicted for another DSN: when
// every pool is busy, the new open fails instead of breaking other runs.
func TestDBBusyPoolsNotEvicted(t *testing.T) {
	s := &dbHost{pools: map[string]*dbPool{}}
	var held []*sql.Conn
	for i := range maxDBPools {
		db := sql.OpenDB(idleConnector{})
		c, err := db.Conn(context.Background()) // in use until closed
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
		p := &dbPool{db: db}
		p.lastUsed.Store(int64(i))
		s.pools[fmt.Sprint("busy", i)] = p
	}
	lim := dbLimits{allowed: []string{"127.0.0.1:3306"}, maxOpen: 2, maxIdle: 1, maxRows: 10}
	if _, err := s.open("mysql", "u:p@tcp(127.0.0.1:3306)/db", lim, 0, nil); err == nil || !strings.Contains(err.Error(), "query under way") {
		t.Fatalf("open with every pool busy: %v", err)
	}
	if len(s.pools) != maxDBPools {
		t.Fatalf("%d pools, want the %d busy ones", len(s.pools), maxDBPools)
	}
	held[5].Close() // pool busy5 is idle now: it goes, not the older busy ones
	if _, err := s.open("mysql", "u:p@tcp(127.0.0.1:3306)/db", lim, 0, nil); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.pools["busy5"]; ok || s.pools["busy0"] == nil {
		t.Errorf("evicted the wrong pool: busy5 kept %v, busy0 kept %v", ok, s.pools["busy0"] != nil)
	}
	for _, c := range held {
		c.Close()
	}
	for _, p := range s.pools {
		p.db.Close()
	}
}

// idleConnector makes connections that do nothing: enough to hold one.
type idleConnector struct{}

func (idleConnector) Connect(context.Context) (driver.Conn, error) { return idleConn{}, nil }
func (idleConnector) Driver() driver.Driver                        { return nil }

type idleConn struct{}

func (idleConn) Prepare(string) (driver.Stmt, error) { return nil, errors.New("idle connection") }
func (idleConn) Close() error                        { return nil }
func (idleConn) Begin() (driver.Tx, error)           { return nil, errors.New("idle connection") }
