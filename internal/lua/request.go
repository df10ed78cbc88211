package lua

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"strings"

	glua "github.com/yuin/gopher-lua"

	"github.com/backline/backline/internal/health"
)

// Request is what package auth knows about one authentication attempt; it
// becomes the request table passed to nauthilus_call_filter (contract §1.4,
// v1.12 field names). Password is passed to scripts as Nauthilus does (a
// filter may need the user's own password, e.g. to log in to a backend), but
// it is never logged: every log line and error a script produces is scrubbed
// of it.
type Request struct {
	Username   string `json:"username"`
	Password   string `json:"password"`
	Protocol   string `json:"protocol"`
	Service    string `json:"service"`
	Method     string `json:"method"`
	ClientIP   string `json:"client_ip"`
	ClientPort string `json:"client_port"`
	ClientHost string `json:"client_hostname"`
	ClientID   string `json:"client_id"`
	UserAgent  string `json:"user_agent"`
	LocalIP    string `json:"local_ip"`
	LocalPort  string `json:"local_port"`
	Session    string `json:"session"`

	Authenticated bool `json:"authenticated"`
	UserFound     bool `json:"user_found"`
	// NoAuth is nginx/Dovecot "no-auth" mode: only when_no_auth filters run.
	NoAuth bool `json:"no_auth"`

	Account          string `json:"account"`
	AccountField     string `json:"account_field"`
	UniqueUserID     string `json:"unique_user_id"`
	DisplayName      string `json:"display_name"`
	AuthLoginAttempt int    `json:"auth_login_attempt"`

	// SSL holds the ssl* fields (ssl, ssl_protocol, ssl_cipher, ...) keyed by
	// their Lua names; missing ones are passed as "".
	SSL map[string]string `json:"-"`

	Debug     bool   `json:"debug"`
	LogFormat string `json:"log_format"`
	LogLevel  string `json:"log_level"`
	// LatencyMS is the time since the request started.
	LatencyMS  float64 `json:"latency"`
	HTTPStatus int     `json:"http_status"`

	// Snapshot, when set, is the health snapshot the caller pinned for the
	// whole request: the filters' server lists then come from the same round
	// as the caller's own selection. Nil: each run reads the current one.
	Snapshot *health.Snapshot `json:"-"`

	// HTTP is the HTTP exchange the request came in (nauthilus_http_request
	// and nauthilus_http_response); nil outside an HTTP request.
	HTTP *HTTPExchange `json:"-"`

	// Context is the request's nauthilus_context store: the caller sets
	// the same one on every Request of one authentication (password script
	// and filters) so they share it; nil makes RunFilters or Verify create
	// one (module_context.go).
	Context *RequestContext `json:"-"`

	// DryRun is explain's run: module functions with an effect outside
	// the run are not performed (dryrun.go). Never set for a real login.
	DryRun bool `json:"-"`
}

// sslFields are the v1.12 TLS fields, always present in the table.
var sslFields = []string{
	"ssl", "ssl_session_id", "ssl_client_verify", "ssl_client_dn", "ssl_client_cn", "ssl_issuer",
	"ssl_client_not_before", "ssl_client_not_after", "ssl_subject_dn", "ssl_issuer_dn",
	"ssl_client_subject_dn", "ssl_client_issuer_dn", "ssl_protocol", "ssl_cipher", "ssl_serial", "ssl_fingerprint",
}

// table fills the state's request table for one run. Each run has the
// table to itself (it is emptied after the run), so one script cannot
// change what a parallel or a later one sees.
//
// Only fields with a value are stored: the rest (most SSL fields, usually)
// are answered by meta, whose __index holds every field's zero value, so a
// script still reads "" or false, never nil. pairs() lists only the set
// fields. Storing ~60 keys per run, then building the table per run, were
// each a large part of a cached nginx answer.
func (r *Request) table(v *vm) *glua.LTable {
	t := v.requestTable.t
	t.Metatable = v.requestMeta
	keys := v.requestKeys[:0]
	set := func(k string, val glua.LValue) {
		t.RawSetString(k, val)
		keys = append(keys, k)
	}
	str := func(k, val string) {
		if val != "" {
			set(k, glua.LString(val))
		}
	}
	// same is str for a field that mostly repeats from run to run (the
	// service, the addresses, the log settings...): the state keeps the
	// boxed value and reuses it while the text is the same. Not for the
	// password, which the state must not keep past the run.
	same := func(i int, k, val string) {
		if val == "" {
			return
		}
		if b, ok := v.boxed[i].(glua.LString); !ok || string(b) != val {
			v.boxed[i] = glua.LString(val)
		}
		set(k, v.boxed[i])
	}
	flag := func(k string, val bool) {
		if val {
			set(k, glua.LTrue)
		}
	}
	num := func(k string, val float64) {
		if val != 0 {
			set(k, glua.LNumber(val))
		}
	}
	flag("debug", r.Debug)
	flag("user_found", r.UserFound)
	flag("authenticated", r.Authenticated)
	flag("no_auth", r.NoAuth)
	same(0, "service", r.Service)
	str("session", r.Session)
	same(1, "client_ip", r.ClientIP)
	str("client_port", r.ClientPort)
	same(2, "client_hostname", r.ClientHost)
	same(3, "client_id", r.ClientID)
	same(4, "user_agent", r.UserAgent)
	same(5, "local_ip", r.LocalIP)
	same(6, "local_port", r.LocalPort)
	same(7, "username", r.Username)
	same(8, "account", r.Account)
	same(9, "account_field", r.AccountField)
	str("unique_user_id", r.UniqueUserID)
	str("display_name", r.DisplayName)
	str("password", r.Password)
	same(10, "protocol", r.Protocol)
	same(11, "method", r.Method)
	for k, val := range r.SSL {
		if isSSLField(k) {
			str(k, val)
		}
	}
	num("auth_login_attempt", float64(r.AuthLoginAttempt))
	format, level := r.logSettings()
	logging := v.loggingTable.t
	logging.RawSetString("log_format", glua.LString(format))
	logging.RawSetString("log_level", glua.LString(level))
	set("logging", logging)
	same(12, "log_format", format)
	same(13, "log_level", level)
	num("latency", r.LatencyMS)
	num("http_status", float64(r.HTTPStatus))
	v.requestKeys = keys
	return t
}

// boxedFields is the number of fields Request.table boxes once per state.
const boxedFields = 14

// sslFieldSet is sslFields for lookups.
var sslFieldSet = func() map[string]bool {
	m := make(map[string]bool, len(sslFields))
	for _, k := range sslFields {
		m[k] = true
	}
	return m
}()

func isSSLField(k string) bool { return sslFieldSet[k] }

func (r *Request) logSettings() (format, level string) {
	format, level = r.LogFormat, r.LogLevel
	if format == "" {
		format = "default"
	}
	if level == "" {
		level = "info"
	}
	return format, level
}

// newRequestMeta is built once per Lua state: {__index = <every field at
// its zero value>}, except redis_prefix, the same for every run of the
// process (storage.redis.prefix, set before the Engine is built): a
// default costs a run nothing, a stored field a table write.
func newRequestMeta(L *glua.LState, redisPrefix string) *glua.LTable {
	defaults := L.CreateTable(0, 64)
	(&Request{}).fill(L, func(k string, v glua.LValue) { defaults.RawSetString(k, v) })
	defaults.RawSetString("redis_prefix", glua.LString(redisPrefix))
	meta := L.CreateTable(0, 2)
	meta.RawSetString("__index", defaults)
	// getmetatable(request) must not hand out the shared defaults, or one
	// request could change what the next one on this state reads.
	meta.RawSetString("__metatable", glua.LFalse)
	return meta
}

func (r *Request) fill(L *glua.LState, set func(k string, v glua.LValue)) {
	str := func(k, v string) { set(k, glua.LString(v)) }

	set("debug", glua.LBool(r.Debug))
	set("repeating", glua.LFalse)
	set("user_found", glua.LBool(r.UserFound))
	set("authenticated", glua.LBool(r.Authenticated))
	set("no_auth", glua.LBool(r.NoAuth))
	set("brute_force_counter", glua.LNumber(0))

	str("service", r.Service)
	str("session", r.Session)
	str("client_ip", r.ClientIP)
	str("client_port", r.ClientPort)
	str("client_net", "")
	str("client_hostname", r.ClientHost)
	str("client_id", r.ClientID)
	str("user_agent", r.UserAgent)
	str("local_ip", r.LocalIP)
	str("local_port", r.LocalPort)
	str("username", r.Username)
	str("account", r.Account)
	str("account_field", r.AccountField)
	str("unique_user_id", r.UniqueUserID)
	str("display_name", r.DisplayName)
	str("password", r.Password)
	str("protocol", r.Protocol)
	str("method", r.Method)
	str("oidc_cid", "")
	str("brute_force_bucket", "")
	str("feature", "")
	str("redis_prefix", "")
	for _, k := range sslFields {
		str(k, r.SSL[k])
	}
	set("auth_login_attempt", glua.LNumber(r.AuthLoginAttempt))

	format, level := r.logSettings()
	logging := L.CreateTable(0, 2)
	logging.RawSetString("log_format", glua.LString(format))
	logging.RawSetString("log_level", glua.LString(level))
	set("logging", logging)
	str("log_format", format)
	str("log_level", level)
	set("latency", glua.LNumber(r.LatencyMS))
	set("http_status", glua.LNumber(r.HTTPStatus))
}

// LogValue keeps the password out of any log line that includes a Request.
func (r *Request) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("username", r.Username),
		slog.String("protocol", r.Protocol),
		slog.String("service", r.Service),
		slog.String("client_ip", r.ClientIP),
		slog.String("session", r.Session),
	)
}

// ParseRequestJSON reads a request for `backline lua test`: a flat JSON
// object with the Lua field names (username, password, client_ip, ...);
// ssl* keys fill SSL. Unknown keys are errors so typos do not pass silently.
func ParseRequestJSON(data []byte) (*Request, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("request: %w", err)
	}
	known := map[string]bool{}
	for _, f := range jsonFieldNames() {
		known[f] = true
	}
	req := &Request{SSL: map[string]string{}}
	plain := map[string]json.RawMessage{}
	var unknown []string
	for k, v := range raw {
		switch {
		case known[k]:
			plain[k] = v
		case k == "http":
			x, err := parseOfflineHTTP(v)
			if err != nil {
				return nil, err
			}
			req.HTTP = x
		case strings.HasPrefix(k, "ssl"):
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, fmt.Errorf("request: %s must be a string", k)
			}
			req.SSL[k] = s
		default:
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("request: unknown keys %s (known: %s, ssl*, http)", strings.Join(unknown, ", "), strings.Join(jsonFieldNames(), ", "))
	}
	b, _ := json.Marshal(plain)
	if err := json.Unmarshal(b, req); err != nil {
		return nil, fmt.Errorf("request: %w", err)
	}
	return req, nil
}

func jsonFieldNames() []string {
	return []string{
		"account", "account_field", "auth_login_attempt", "authenticated", "client_hostname", "client_id",
		"client_ip", "client_port", "debug", "display_name", "http_status", "latency", "local_ip", "local_port",
		"log_format", "log_level", "method", "no_auth", "password", "protocol", "service", "session",
		"unique_user_id", "user_agent", "user_found", "username",
	}
}
