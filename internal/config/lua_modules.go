package config

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// LuaModuleConfig holds the lua.config keys of the Nauthilus-compatible
// modules (nauthilus_password, nauthilus_misc, glua_http, nauthilus_mail).
// It is embedded in LuaConfig, so its keys sit directly under lua.config.
type LuaModuleConfig struct {
	// PasswordNonce is the server nonce nauthilus_password's
	// generate_password_hash puts before the password (Nauthilus'
	// password_nonce); empty by default.
	PasswordNonce string `yaml:"password_nonce"`
	// PasswordHashLength is how many hex characters generate_password_hash
	// returns: 8 (Nauthilus up to 3.0, the default) or 64 (3.1).
	PasswordHashLength int `yaml:"password_hash_length"`
	// IPScopingV4CIDR / V6 are nauthilus_misc.scoped_ip's prefix lengths;
	// 0 (the default) returns the address unchanged.
	IPScopingV4CIDR int `yaml:"ip_scoping_v4_cidr"`
	IPScopingV6CIDR int `yaml:"ip_scoping_v6_cidr"`
	// HTTPClient limits glua_http; Mail limits nauthilus_mail.
	HTTPClient LuaHTTPClient `yaml:"http_client"`
	Mail       LuaMail       `yaml:"mail"`
	// DB limits the db module (lua_db.go).
	DB LuaDB `yaml:"db"`
}

// LuaHTTPClient is lua.config.http_client. Without allowed_hosts a script
// can reach nothing: outbound HTTP from filters is opt-in per host.
type LuaHTTPClient struct {
	AllowedHosts []string `yaml:"allowed_hosts"`
	// Timeout bounds one request (the run's script_timeout still applies).
	Timeout time.Duration `yaml:"timeout"`
	// MaxResponseBody bounds a response body read into Lua.
	MaxResponseBody ByteSize `yaml:"max_response_body"`
	// MaxRedirects followed, each to an allowed host only.
	MaxRedirects int `yaml:"max_redirects"`
}

// LuaMail is lua.config.mail: where nauthilus_mail.send_mail may connect.
type LuaMail struct {
	AllowedHosts []string      `yaml:"allowed_hosts"`
	Timeout      time.Duration `yaml:"timeout"`
}

// Defaults of the module settings.
const (
	DefaultLuaPasswordHashLength   = 8
	DefaultLuaHTTPTimeout          = 10 * time.Second
	DefaultLuaHTTPMaxResponseBody  = ByteSize(1 << 20)
	MaxLuaHTTPMaxResponseBody      = ByteSize(64 << 20)
	DefaultLuaHTTPMaxRedirects     = 5
	DefaultLuaMailTimeout          = 30 * time.Second
	maxLuaModuleTimeout            = 5 * time.Minute
	maxLuaHTTPRedirectsConfigValue = 20
)

// HostPattern is one allowed_hosts entry: a DNS name (exact, or "*.domain"
// for any name below domain), an IP address or a CIDR prefix, each with an
// optional port (0: any port).
type HostPattern struct {
	Name   string       // lower-case; "" for an address or prefix
	Prefix netip.Prefix // valid for an address (a /32 or /128) or prefix
	Port   int
}

// ParseHostPattern reads "host", "host:port", "*.domain[:port]",
// "192.0.2.1[:port]", "[2001:db8::1]:port", "2001:db8::1" or "10.0.0.0/8".
func ParseHostPattern(s string) (HostPattern, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return HostPattern{}, fmt.Errorf("is empty")
	}
	if p, err := netip.ParsePrefix(in); err == nil {
		return HostPattern{Prefix: p.Masked()}, nil
	}
	if a, err := netip.ParseAddr(in); err == nil {
		return HostPattern{Prefix: netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())}, nil
	}
	host, port := in, 0
	if h, p, ok := cutHostPort(in); ok {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return HostPattern{}, fmt.Errorf("%q: port must be 1..65535", s)
		}
		host, port = h, n
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return HostPattern{Prefix: netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), Port: port}, nil
	}
	name := strings.ToLower(host)
	check := strings.TrimPrefix(name, "*.")
	if !validDNSName(check) {
		return HostPattern{}, fmt.Errorf("%q is not a host name, \"*.domain\", IP address or CIDR prefix (with an optional :port)", s)
	}
	return HostPattern{Name: name, Port: port}, nil
}

// cutHostPort splits "host:port" and "[v6]:port".
func cutHostPort(s string) (host, port string, ok bool) {
	if strings.HasPrefix(s, "[") {
		end := strings.Index(s, "]:")
		if end < 0 {
			return "", "", false
		}
		return s[1:end], s[end+2:], true
	}
	i := strings.LastIndexByte(s, ':')
	if i < 0 || strings.Count(s, ":") != 1 {
		return "", "", false
	}
	return s[:i], s[i+1:], true
}

func validDNSName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// Matches reports whether a connection to name (as the script wrote it,
// lower-cased) resolved to addr on port is allowed by this entry.
func (p HostPattern) Matches(name string, addr netip.Addr, port int) bool {
	if p.Port != 0 && p.Port != port {
		return false
	}
	if p.Name != "" {
		if suffix, ok := strings.CutPrefix(p.Name, "*"); ok {
			return strings.HasSuffix(name, suffix) && len(name) > len(suffix)
		}
		return name == p.Name
	}
	return addr.IsValid() && p.Prefix.Contains(addr.Unmap())
}

func (c *Config) validateLuaModules(errs *Errors) {
	m := &c.Lua.Config.LuaModuleConfig
	line := func(key string) int { return c.Lines.Line(key) }
	switch m.PasswordHashLength {
	case 0:
		m.PasswordHashLength = DefaultLuaPasswordHashLength
	case 8, 64:
	default:
		const key = "lua.config.password_hash_length"
		errs.Add(key, line(key), "must be 8 (Nauthilus up to 3.0) or 64 (3.1), got %d", m.PasswordHashLength)
	}
	for key, v := range map[string]struct{ got, max int }{
		"lua.config.ip_scoping_v4_cidr": {m.IPScopingV4CIDR, 32},
		"lua.config.ip_scoping_v6_cidr": {m.IPScopingV6CIDR, 128},
	} {
		if v.got < 0 || v.got > v.max {
			errs.Add(key, line(key), "must be between 0 (no scoping) and %d, got %d", v.max, v.got)
		}
	}
	validateHostList(errs, c.Lines, "lua.config.http_client.allowed_hosts", m.HTTPClient.AllowedHosts)
	validateHostList(errs, c.Lines, "lua.config.mail.allowed_hosts", m.Mail.AllowedHosts)
	h := &m.HTTPClient
	h.Timeout = checkModuleTimeout(errs, c.Lines, "lua.config.http_client.timeout", h.Timeout, DefaultLuaHTTPTimeout)
	m.Mail.Timeout = checkModuleTimeout(errs, c.Lines, "lua.config.mail.timeout", m.Mail.Timeout, DefaultLuaMailTimeout)
	const bodyKey = "lua.config.http_client.max_response_body"
	switch _, written := c.Lines[bodyKey]; {
	case h.MaxResponseBody == 0 && !written:
		h.MaxResponseBody = DefaultLuaHTTPMaxResponseBody
	case h.MaxResponseBody < 1 || h.MaxResponseBody > MaxLuaHTTPMaxResponseBody:
		errs.Add(bodyKey, line(bodyKey), "must be between 1B and %s, got %s", MaxLuaHTTPMaxResponseBody, h.MaxResponseBody)
	}
	const redirectsKey = "lua.config.http_client.max_redirects"
	switch _, written := c.Lines[redirectsKey]; {
	case h.MaxRedirects == 0 && !written:
		h.MaxRedirects = DefaultLuaHTTPMaxRedirects
	case h.MaxRedirects < 0 || h.MaxRedirects > maxLuaHTTPRedirectsConfigValue:
		errs.Add(redirectsKey, line(redirectsKey), "must be between 0 and %d, got %d", maxLuaHTTPRedirectsConfigValue, h.MaxRedirects)
	}
}

func validateHostList(errs *Errors, lines Lines, key string, list []string) {
	for i, entry := range list {
		if _, err := ParseHostPattern(entry); err != nil {
			k := fmt.Sprintf("%s[%d]", key, i)
			errs.Add(k, lines.Line(k), "%v", err)
		}
	}
}

func checkModuleTimeout(errs *Errors, lines Lines, key string, got, def time.Duration) time.Duration {
	_, written := lines[key]
	switch {
	case got == 0 && !written:
		return def
	case got <= 0 || got > maxLuaModuleTimeout:
		errs.Add(key, lines.Line(key), "must be more than 0 and at most %s, got %s", maxLuaModuleTimeout, got)
	}
	return got
}
