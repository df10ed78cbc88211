package config

import (
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
)

// LuaDB is lua.config.db: what the db module (SQL through database/sql)
// may reach and how much it may hold. Without allowed_addresses every
// db.open is refused: a script copied from elsewhere cannot make the
// daemon connect to a database the operator did not name.
type LuaDB struct {
	// AllowedAddresses are the servers a DSN may name, after the driver
	// parsed it: "host:port" (a name or an IP address, compared as
	// written, lower-cased) or the absolute path of a Unix socket
	// (MySQL's socket file, PostgreSQL's socket directory's
	// .s.PGSQL.<port> file).
	AllowedAddresses []string `yaml:"allowed_addresses"`
	// MaxOpenConnections bounds each pool (one per DSN); a script's
	// max_connections is capped at it.
	MaxOpenConnections int `yaml:"max_open_connections"`
	// MaxIdleConnections is how many of a pool's connections stay open
	// between queries (at most MaxOpenConnections); 0 keeps none. A
	// pointer tells "not set" (the default) from an explicit 0, which an
	// operator writes to close every connection after its query.
	MaxIdleConnections *int `yaml:"max_idle_connections"`
	// MaxRows bounds one result; a query returning more fails.
	MaxRows int `yaml:"max_rows"`
}

// Defaults and bounds of lua.config.db.
const (
	DefaultLuaDBMaxOpen  = 10
	MaxLuaDBMaxOpen      = 1000
	DefaultLuaDBMaxIdle  = 2
	DefaultLuaDBMaxRows  = 10000
	MaxLuaDBMaxRows      = 1000000
	MaxLuaDBAddresses    = 64
	luaDBAllowedKey      = "lua.config.db.allowed_addresses"
	luaDBMaxOpenKey      = "lua.config.db.max_open_connections"
	luaDBMaxIdleKey      = "lua.config.db.max_idle_connections"
	luaDBMaxRowsKey      = "lua.config.db.max_rows"
	luaDBMaxAddressBytes = 1024
)

// NormalizeDBAddress is the form allowed_addresses entries and parsed
// DSN addresses are compared in: "host:port" with the host lower-cased,
// an IPv6 address in brackets and canonical form, or a clean absolute
// socket path. ok is false for anything else.
func NormalizeDBAddress(s string) (string, bool) {
	if len(s) > luaDBMaxAddressBytes || s == "" {
		return "", false
	}
	if strings.HasPrefix(s, "/") {
		if strings.ContainsRune(s, 0) {
			return "", false
		}
		return filepath.Clean(s), true
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return "", false
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return "", false
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if a.Zone() != "" {
			return "", false
		}
		return net.JoinHostPort(a.Unmap().String(), strconv.Itoa(n)), true
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if !validDNSName(host) {
		return "", false
	}
	return net.JoinHostPort(host, strconv.Itoa(n)), true
}

// validateLuaDB checks lua.config.db and fills in its defaults.
func (c *Config) validateLuaDB(errs *Errors) {
	d := &c.Lua.Config.DB
	if len(d.AllowedAddresses) > MaxLuaDBAddresses {
		errs.Add(luaDBAllowedKey, c.Lines.Line(luaDBAllowedKey), "at most %d addresses, got %d", MaxLuaDBAddresses, len(d.AllowedAddresses))
	}
	for i, a := range d.AllowedAddresses {
		if _, ok := NormalizeDBAddress(a); !ok {
			k := fmt.Sprintf("%s[%d]", luaDBAllowedKey, i)
			errs.Add(k, c.Lines.Line(k), "%q is neither host:port (a host name or IP address and a port 1..65535) nor the absolute path of a Unix socket", truncateValue(a))
		}
	}
	d.MaxOpenConnections = c.luaDBCount(errs, luaDBMaxOpenKey, d.MaxOpenConnections, DefaultLuaDBMaxOpen, 1, MaxLuaDBMaxOpen)
	d.MaxRows = c.luaDBCount(errs, luaDBMaxRowsKey, d.MaxRows, DefaultLuaDBMaxRows, 1, MaxLuaDBMaxRows)
	if p := d.MaxIdleConnections; p != nil && (*p < 0 || *p > max(d.MaxOpenConnections, 1)) {
		errs.Add(luaDBMaxIdleKey, c.Lines.Line(luaDBMaxIdleKey), "must be between 0 and max_open_connections (%d), got %d", d.MaxOpenConnections, *p)
	}
}

// luaDBCount applies def to an unwritten count and checks lo..hi. A
// written 0 is refused, not taken as the default: for
// max_open_connections database/sql reads 0 as "unlimited", for max_rows
// it would fail every query that returns a row, and an operator who
// writes 0 means one of those, not the default.
func (c *Config) luaDBCount(errs *Errors, key string, got, def, lo, hi int) int {
	_, written := c.Lines[key]
	switch {
	case !written && got == 0:
		return def
	case got == 0:
		errs.Add(key, c.Lines.Line(key), "must be between %d and %d, got 0 (0 is neither unlimited nor the default; leave the key out for the default %d)", lo, hi, def)
	case got < lo || got > hi:
		errs.Add(key, c.Lines.Line(key), "must be between %d and %d, got %d", lo, hi, got)
	}
	return got
}

// EffectiveMaxOpenConnections is max_open_connections or the default (a
// configuration built in code, not parsed, may leave it 0).
func (d LuaDB) EffectiveMaxOpenConnections() int {
	if d.MaxOpenConnections <= 0 {
		return DefaultLuaDBMaxOpen
	}
	return d.MaxOpenConnections
}

// EffectiveMaxIdleConnections is max_idle_connections (0: none kept) or,
// when not set, the default; never more than the open connections.
func (d LuaDB) EffectiveMaxIdleConnections() int {
	return min(intOr(d.MaxIdleConnections, DefaultLuaDBMaxIdle), d.EffectiveMaxOpenConnections())
}

// EffectiveMaxRows is max_rows or the default.
func (d LuaDB) EffectiveMaxRows() int {
	if d.MaxRows <= 0 {
		return DefaultLuaDBMaxRows
	}
	return d.MaxRows
}

// LuaDBSummary is the db module's effective pool limits, for backline
// check; empty when no address is allowed (then the module reaches
// nothing and check warns instead).
func LuaDBSummary(d LuaDB) string {
	if len(d.AllowedAddresses) == 0 {
		return ""
	}
	idle := strconv.Itoa(d.EffectiveMaxIdleConnections())
	if idle == "0" {
		idle += " (none kept between queries)"
	}
	return fmt.Sprintf("%d allowed address(es); per DSN max_open_connections %d, max_idle_connections %s; max_rows %d",
		len(d.AllowedAddresses), d.EffectiveMaxOpenConnections(), idle, d.EffectiveMaxRows())
}

// truncateValue keeps an echoed configuration value short.
func truncateValue(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
