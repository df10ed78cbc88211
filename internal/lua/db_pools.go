package lua

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/backline/backline/internal/config"
)

// The db module's process-wide state: one database/sql pool per driver and
// DSN, kept in the Host so that it outlives runs and reloads (Nauthilus's
// backend.lua opens its DSN on every request with shared = true). Every DSN
// is parsed by its driver's own parser, and the parsed configuration (not
// the text) is checked against lua.config.db.allowed_addresses and is what
// connects, so what was checked is what is dialled.
//
// PostgreSQL goes through pgx (github.com/jackc/pgx/v5/stdlib) rather than
// lib/pq: pgconn.ParseConfig exposes the parsed hosts and ports (fallbacks
// included) to check, stdlib.OpenDB connects with exactly that parsed
// configuration, and ConnStringAllowedKeys refuses the settings that would
// make the daemon read files (sslkey, passfile, service, ...) before any
// file is touched. lib/pq parses into unexported fields, so a check could
// only re-parse the text and hope to agree with it.

// Bounds on what scripts can make the daemon keep.
const (
	// maxDBPools is how many distinct DSNs have a pool at once; opening
	// another closes the least recently used (a changed DSN after a reload
	// replaces the old one in time).
	maxDBPools = 16
	// maxDSNBytes bounds a DSN.
	maxDSNBytes = 4096
	// dbIdleTime closes a pool's idle connections after a while, so a
	// pool no script uses any more holds nothing.
	dbIdleTime = 5 * time.Minute
	// dbLifetime renews connections (a server failover, a changed grant).
	dbLifetime = 30 * time.Minute
)

// dbDrivers are the driver names db.open knows (gopher-lua-libs' names).
var dbDrivers = []string{"mysql", "postgres"}

// postgresKeys are the DSN settings a postgres DSN may use: none reads a
// file, none names a process-wide service definition.
var postgresKeys = []string{"host", "port", "dbname", "user", "password", "sslmode", "sslnegotiation",
	"connect_timeout", "application_name", "target_session_attrs", "search_path", "statement_timeout"}

type dbHost struct {
	mu    sync.Mutex
	pools map[string]*dbPool
	// killer sends the KILL QUERY of abandoned MySQL queries (db_kill.go).
	killer *dbKiller
}

// dbPool is one DSN's database/sql pool.
type dbPool struct {
	db     *sql.DB
	driver string
	// addrs are the normalized addresses the DSN connects to (a postgres
	// DSN may list several hosts).
	addrs []string
	// password is the DSN's password, removed from every error text.
	password string
	lastUsed atomic.Int64
	// killConn makes the connections that kill abandoned queries (the
	// driver's own connector, so no thread id is fetched for them); nil
	// for PostgreSQL, whose driver cancels. killer bounds them.
	killConn driver.Connector
	killer   *dbKiller
	// log is the first opener's logger, for failed kills; killWarn
	// limits those lines to one per dbKillWarnEvery.
	log      *slog.Logger
	killWarn warnLimiter

	// What the pool's sizes were made from: the first opener's
	// max_connections and the config's limits. A reload that changes the
	// limits resizes the pool at its next open.
	sizeMu           sync.Mutex
	maxConns         int
	cfgOpen, cfgIdle int
}

func dbState(h *Host) *dbHost {
	return hostValue(h, "db", func() *dbHost {
		return &dbHost{pools: map[string]*dbPool{}, killer: newDBKiller(h.Registerer, dbMaxKills)}
	})
}

// CloseDBPools closes every pool the db module opened and waits for the
// KILL QUERY statements under way (each at most dbKillTimeout): a stopping
// daemon or `backline lua test` would otherwise exit before they reach
// the server, which then keeps running the queries they are meant to end.
// The daemon calls it when it stops (an Engine on a private Host when it
// closes).
func (h *Host) CloseDBPools() {
	s := dbState(h)
	s.mu.Lock()
	pools := s.pools
	s.pools = map[string]*dbPool{}
	s.mu.Unlock()
	for _, p := range pools {
		p.db.Close()
	}
	s.killer.wait()
}

// dbLimits are the Engine's lua.config.db settings, defaults applied.
type dbLimits struct {
	allowed          []string
	maxOpen, maxIdle int
	maxRows          int
	// maxMessage bounds one PostgreSQL protocol message (a row is one):
	// pgx reads a message whole before the row can be charged to the
	// run's max_memory, and a row may be up to 1 GiB a column, so a
	// message larger than a run's whole budget is refused while read.
	maxMessage int
}

// newDBLimits is made once per Engine (NewEngine), not on every db.open:
// Nauthilus's backend.lua opens its DSN on every request. maxMemory is the
// Engine's max_memory in bytes (zero for the default).
func newDBLimits(cfg config.Lua, maxMemory int64) dbLimits {
	d := cfg.Config.DB
	// maxIdle 0 is the operator's "keep none", not a missing value: the
	// config tells the two apart (max_idle_connections is a pointer).
	l := dbLimits{maxOpen: d.EffectiveMaxOpenConnections(), maxIdle: d.EffectiveMaxIdleConnections(),
		maxRows: d.EffectiveMaxRows(), maxMessage: int(min(maxMemory, math.MaxInt32))}
	if l.maxMessage <= 0 {
		l.maxMessage = int(config.DefaultLuaMaxMemory)
	}
	for _, a := range d.AllowedAddresses {
		if n, ok := config.NormalizeDBAddress(a); ok {
			l.allowed = append(l.allowed, n)
		}
	}
	return l
}

// parsedDSN is what a driver's parser made of a DSN.
type parsedDSN struct {
	addrs     []string
	password  string
	connector func(logger *slog.Logger, lim dbLimits) (*sql.DB, driver.Connector, error)
}

// parseDSN parses dsn with driver's own parser and checks every address it
// connects to against allowed. Its errors never contain the DSN's password,
// nor, when the DSN does not parse, any four bytes of the DSN (a parser's
// message may quote a mis-split piece of it).
func parseDSN(driver, dsn string, allowed []string) (*parsedDSN, error) {
	if !slices.Contains(dbDrivers, driver) {
		return nil, fmt.Errorf("driver %q is not supported by backline (%s)", truncateText(driver, 32), strings.Join(dbDrivers, ", "))
	}
	if len(allowed) == 0 {
		return nil, errors.New("no database may be reached: lua.config.db.allowed_addresses is empty")
	}
	if len(dsn) > maxDSNBytes {
		return nil, fmt.Errorf("the DSN is longer than %d bytes", maxDSNBytes)
	}
	var p *parsedDSN
	var err error
	if driver == "mysql" {
		p, err = parseMySQLDSN(dsn)
	} else {
		p, err = parsePostgresDSN(dsn)
	}
	if err != nil {
		return nil, err
	}
	if err := checkAllowed(p.addrs, allowed, p.password); err != nil {
		return nil, err
	}
	return p, nil
}

// checkAllowed refuses addrs unless every one is in allowed; its error
// never contains password.
func checkAllowed(addrs, allowed []string, password string) error {
	for _, a := range addrs {
		if !slices.Contains(allowed, a) {
			return errors.New(redactSecret(fmt.Sprintf("%s is not allowed (lua.config.db.allowed_addresses)", truncateText(a, 128)), password))
		}
	}
	return nil
}

func parseMySQLDSN(dsn string) (*parsedDSN, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, parseFailure("mysql", err, dsn)
	}
	if cfg.AllowAllFiles {
		return nil, errors.New("the mysql DSN sets allowAllFiles, which lets the server read any file of the daemon's (LOAD DATA LOCAL INFILE): refused")
	}
	if cfg.MultiStatements {
		// One query string could then carry COMMIT and a write past a dry
		// run's read-only transaction (and a script needs no batches).
		return nil, errors.New("the mysql DSN sets multiStatements, which lets one query carry several statements: refused")
	}
	var addr string
	var ok bool
	switch cfg.Net {
	case "tcp", "tcp4", "tcp6":
		addr, ok = config.NormalizeDBAddress(cfg.Addr)
	case "unix":
		addr, ok = config.NormalizeDBAddress(cfg.Addr)
		ok = ok && strings.HasPrefix(addr, "/")
		// The check compares the lexically cleaned path, so that path is
		// what is dialled: the kernel resolves "dir/link/../x" through
		// the link, to another socket than the cleaned "dir/x".
		cfg.Addr = addr
	default:
		return nil, errors.New(redactSecret(fmt.Sprintf("the mysql DSN's network %q is not tcp or unix", truncateText(cfg.Net, 32)), cfg.Passwd))
	}
	if !ok {
		return nil, errors.New(redactSecret(fmt.Sprintf("the mysql DSN's address %q is not host:port or a socket path", truncateText(cfg.Addr, 128)), cfg.Passwd))
	}
	password := cfg.Passwd
	return &parsedDSN{addrs: []string{addr}, password: password, connector: func(logger *slog.Logger, _ dbLimits) (*sql.DB, driver.Connector, error) {
		// The driver dials exactly the checked network and address, never
		// one registered with mysql.RegisterDialContext; its few log lines
		// go to the daemon's log instead of stderr.
		var d net.Dialer
		cfg.DialFunc = func(ctx context.Context, network, address string) (net.Conn, error) {
			return d.DialContext(ctx, network, address)
		}
		cfg.Logger = mysqlLogger{logger: logger, password: password}
		c, err := mysql.NewConnector(cfg)
		if err != nil {
			return nil, nil, err
		}
		return sql.OpenDB(threadIDConnector{Connector: c, password: password}), c, nil
	}}, nil
}

func parsePostgresDSN(dsn string) (*parsedDSN, error) {
	// pgconn fills in what the DSN leaves out from the daemon's own
	// environment and home directory: PGPASSWORD, ~/.pgpass (or
	// PGPASSFILE), a service's password, and the client certificate of
	// PGSSLCERT/PGSSLKEY or ~/.postgresql. Those are the operator's
	// credentials, not the script's: a script naming an allowed server
	// and user "postgres" without a password would log in with them. So
	// the DSN is parsed first without "password" allowed; if that
	// succeeds the DSN has none, and whatever password pgconn found is
	// dropped. Client certificates can only come from there (the DSN may
	// not set sslcert or sslkey), so they are always dropped.
	cfg, err := pgx.ParseConfigWithOptions(dsn, pgx.ParseConfigOptions{
		ParseConfigOptions: pgconn.ParseConfigOptions{ConnStringAllowedKeys: postgresKeysNoPassword}})
	if err == nil {
		cfg.Password = ""
	} else {
		cfg, err = pgx.ParseConfigWithOptions(dsn, pgx.ParseConfigOptions{
			ParseConfigOptions: pgconn.ParseConfigOptions{ConnStringAllowedKeys: postgresKeys}})
	}
	if err == nil {
		dropClientCertificates(&cfg.Config)
	}
	if err != nil {
		// pgx's message quotes the DSN (its password masked as well as it
		// can); only the cause is shown, and only if it quotes nothing.
		var pe *pgconn.ParseConfigError
		if errors.As(err, &pe) && pe.Unwrap() != nil {
			err = pe.Unwrap()
		}
		return nil, fmt.Errorf("%w (a postgres DSN may set only %s)", parseFailure("postgres", err, dsn), strings.Join(postgresKeys, ", "))
	}
	hosts := []struct {
		host string
		port uint16
	}{{cfg.Host, cfg.Port}}
	for _, f := range cfg.Fallbacks {
		hosts = append(hosts, struct {
			host string
			port uint16
		}{f.Host, f.Port})
	}
	var addrs []string
	for _, h := range hosts {
		network, address := pgconn.NetworkAddress(h.host, h.port)
		addr, ok := config.NormalizeDBAddress(address)
		if network == "unix" {
			ok = ok && strings.HasPrefix(addr, "/")
		}
		if !ok {
			return nil, errors.New(redactSecret(fmt.Sprintf("the postgres DSN's address %q is not host:port or a socket path", truncateText(address, 128)), cfg.Password))
		}
		if !slices.Contains(addrs, addr) {
			addrs = append(addrs, addr)
		}
	}
	return &parsedDSN{addrs: addrs, password: cfg.Password, connector: func(_ *slog.Logger, lim dbLimits) (*sql.DB, driver.Connector, error) {
		cfg.MaxProtocolMessageBodyLen = lim.maxMessage
		return stdlib.OpenDB(*cfg), nil, nil
	}}, nil
}

// postgresKeysNoPassword is postgresKeys without "password".
var postgresKeysNoPassword = slices.DeleteFunc(slices.Clone(postgresKeys), func(k string) bool { return k == "password" })

// dropClientCertificates keeps pgconn from presenting the client
// certificate it found in the daemon's environment or home directory:
// sslcertmode=disable answers every certificate request with none (pgconn
// attaches its certificate loader only in the other modes).
func dropClientCertificates(cfg *pgconn.Config) {
	cfg.SSLCertMode = "disable"
}

// parseFailure is a parser's error without anything of the DSN: the
// driver's reason is kept only when it shares no four bytes with it.
func parseFailure(driver string, err error, dsn string) error {
	reason := err.Error()
	if len(reason) > 200 || quotesDSN(reason, dsn) {
		return fmt.Errorf("the %s DSN does not parse", driver)
	}
	return fmt.Errorf("the %s DSN does not parse: %s", driver, reason)
}

func quotesDSN(text, dsn string) bool {
	const window = 4
	for i := 0; i+window <= len(dsn); i++ {
		if strings.Contains(text, dsn[i:i+window]) {
			return true
		}
	}
	return false // a DSN shorter than the window holds no password worth the name
}

// redactSecret removes a password from a text shown to a script or logged.
func redactSecret(text, password string) string {
	if password == "" {
		return text
	}
	return strings.ReplaceAll(text, password, "<redacted>")
}

// mysqlLogger hands go-sql-driver/mysql's messages to the daemon's log.
type mysqlLogger struct {
	logger   *slog.Logger
	password string
}

func (l mysqlLogger) Print(v ...any) {
	if l.logger != nil {
		l.logger.Warn("db: mysql driver", "message", redactSecret(fmt.Sprint(v...), l.password))
	}
}

// open returns the pool of driver and dsn, making it if needed. The DSN is
// checked against the allowed addresses on every open, so a reload that
// removes an address stops scripts from using a pool made before.
func (s *dbHost) open(driver, dsn string, lim dbLimits, maxConns int, logger *slog.Logger) (*dbPool, error) {
	key := driver + "\x00" + dsn
	s.mu.Lock()
	p := s.pools[key]
	s.mu.Unlock()
	if p != nil {
		if err := checkAllowed(p.addrs, lim.allowed, p.password); err != nil {
			return nil, err
		}
		p.resize(lim)
		p.lastUsed.Store(time.Now().UnixNano())
		return p, nil
	}
	parsed, err := parseDSN(driver, dsn, lim.allowed)
	if err != nil {
		return nil, err
	}
	db, killConn, err := parsed.connector(logger, lim)
	if err != nil {
		return nil, errors.New(redactSecret(err.Error(), parsed.password))
	}
	sizePool(db, lim, maxConns)
	p = &dbPool{db: db, driver: driver, addrs: parsed.addrs, password: parsed.password,
		killConn: killConn, killer: s.killer, log: logger,
		maxConns: maxConns, cfgOpen: lim.maxOpen, cfgIdle: lim.maxIdle}
	p.lastUsed.Store(time.Now().UnixNano())

	s.mu.Lock()
	defer s.mu.Unlock()
	if have := s.pools[key]; have != nil { // another run made it meanwhile: the first wins
		go db.Close()
		return have, nil
	}
	if len(s.pools) >= maxDBPools && !s.evictLocked() {
		go db.Close()
		return nil, fmt.Errorf("%d database pools are open and every one has a query under way; try again later (a script opening many different DSNs cannot close pools other runs are using)", maxDBPools)
	}
	s.pools[key] = p
	return p, nil
}

// sizePool applies lim to a new pool, with a script's max_connections
// capped at max_open_connections, and returns its size. SetMaxIdleConns(0)
// keeps no idle connection (database/sql's default of 2 applies only to a
// pool nobody sized), which is what max_idle_connections: 0 asks for.
func sizePool(db *sql.DB, lim dbLimits, maxConns int) int {
	open := lim.maxOpen
	if maxConns > 0 {
		open = min(maxConns, lim.maxOpen)
	}
	db.SetMaxOpenConns(open)
	db.SetMaxIdleConns(min(lim.maxIdle, open))
	db.SetConnMaxIdleTime(dbIdleTime)
	db.SetConnMaxLifetime(dbLifetime)
	return open
}

// resize applies limits a reload changed to a pool opened before it
// (database/sql takes new sizes at any time; surplus idle connections
// close at once, busy ones when they are returned).
func (p *dbPool) resize(lim dbLimits) {
	p.sizeMu.Lock()
	defer p.sizeMu.Unlock()
	if lim.maxOpen == p.cfgOpen && lim.maxIdle == p.cfgIdle {
		return
	}
	sizePool(p.db, lim, p.maxConns)
	p.cfgOpen, p.cfgIdle = lim.maxOpen, lim.maxIdle
}

// evictLocked closes the least recently used pool with no query under way
// and reports whether it found one. Evicting a busy pool let any script
// that opened 16 other DSNs break every other run's queries ("sql:
// database is closed"; review finding). Close waits for connections being
// returned, so it runs on its own goroutine.
func (s *dbHost) evictLocked() bool {
	var oldKey string
	var oldest *dbPool
	for k, p := range s.pools {
		if p.db.Stats().InUse > 0 {
			continue
		}
		if oldest == nil || p.lastUsed.Load() < oldest.lastUsed.Load() {
			oldKey, oldest = k, p
		}
	}
	if oldest == nil {
		return false
	}
	delete(s.pools, oldKey)
	go oldest.db.Close()
	return true
}
