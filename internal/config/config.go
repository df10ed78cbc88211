// Package config turns backline's YAML file into typed, validated settings.
//
// Key paths follow Nauthilus (seed 004) so existing files carry over. Every
// problem is reported with its key path and line; unknown keys are errors.
package config

import (
	"crypto/tls"
	"time"
)

// Config is the whole file.
type Config struct {
	Server      Server      `yaml:"server"`
	Auth        Auth        `yaml:"auth"`
	Lua         Lua         `yaml:"lua"`
	Definitions Definitions `yaml:"definitions"`
	Gateway     Gateway     `yaml:"gateway"`
	Storage     Storage     `yaml:"storage"`

	// Lines maps key paths to the YAML line they were written on.
	Lines Lines `yaml:"-"`
	// noSecretWarnings are what LoadOptions.NoSecrets let pass.
	noSecretWarnings Errors
	noSecrets        bool
}

// Server configures backline's own HTTP listener and logging.
type Server struct {
	Address   string `yaml:"address"`    // default 127.0.0.1:9080
	LogLevel  string `yaml:"log_level"`  // debug | info | warn | error
	LogFormat string `yaml:"log_format"` // text | json
	// LogFile, when set, takes the daemon's log instead of stderr; SIGUSR1
	// reopens it (logrotate). See logfile.go.
	LogFile string `yaml:"log_file"`
	// APIAuth protects /api/v1/*, the status page and /metrics; empty means
	// open (warned about off loopback).
	APIAuth APIAuth `yaml:"api_auth"`
	// MaxConnections caps the listener's open client connections; 0 (left
	// out) means derived from RLIMIT_NOFILE at start-up. See listener.go.
	MaxConnections int `yaml:"max_connections"`
	// StateFile keeps admin state (drain, maint, weight...) across
	// restarts; empty: $STATE_DIRECTORY/admin-state.json when systemd sets
	// STATE_DIRECTORY, else none. See admin.go.
	StateFile string `yaml:"state_file"`
	// ShutdownDelay keeps the listeners open after SIGTERM while /readyz
	// answers 503, so a load balancer stops sending first (0..60s).
	ShutdownDelay time.Duration `yaml:"shutdown_delay"`
	// Pprof serves Go's profiler under /debug/pprof/, behind api_auth like
	// every other route (off by default; see validatePprof).
	Pprof bool `yaml:"pprof"`
	// TLS, when set, terminates TLS on server.address (listener_tls.go).
	TLS *ListenerTLS `yaml:"tls"`
}

// APIAuth is optional HTTP Basic or bearer protection for the API.
type APIAuth struct {
	Username     string `yaml:"username"`
	Password     string `yaml:"password"`
	PasswordFile string `yaml:"password_file"`
	BearerToken  string `yaml:"bearer_token"`
	BearerFile   string `yaml:"bearer_token_file"`
	// PublicMetrics leaves /metrics open for scrapers that cannot send
	// credentials; by default it needs the same credentials as the API.
	PublicMetrics bool `yaml:"public_metrics"`
}

// Auth holds the services (health checks) and, later, password databases.
type Auth struct {
	Services Services  `yaml:"services"`
	Passdb   []Passdb  `yaml:"passdb"`
	Cache    AuthCache `yaml:"cache"`
	Nginx    Nginx     `yaml:"nginx"`
	// Request configures how the header and nginx endpoints read requests
	// (auth_request.go).
	Request AuthRequest `yaml:"request"`
}

// Services lists what is enabled and configures each service.
type Services struct {
	Enabled             []string     `yaml:"enabled"`
	BackendHealthChecks HealthChecks `yaml:"backend_health_checks"`
}

// ServiceBackendHealthChecks is the name to list under auth.services.enabled.
const ServiceBackendHealthChecks = "backend_health_checks"

// HealthChecks is auth.services.backend_health_checks.
type HealthChecks struct {
	ConnectTimeout    time.Duration `yaml:"connect_timeout"`    // default 5s, (0,1m]
	TLSTimeout        time.Duration `yaml:"tls_timeout"`        // default 5s, (0,1m]
	DeepTimeout       time.Duration `yaml:"deep_timeout"`       // default 5s, (0,5m]
	ConnectInterval   time.Duration `yaml:"connect_interval"`   // default 10s, (0,24h]
	DeepInterval      time.Duration `yaml:"deep_interval"`      // default = connect_interval
	FailureThreshold  int           `yaml:"failure_threshold"`  // default 1, 1..100
	RecoveryThreshold int           `yaml:"recovery_threshold"` // default 1, 1..100
	// InitialState is the gate state before the first verdict: healthy (fail-open,
	// as Nauthilus) or unhealthy (as HAProxy's default for new servers).
	InitialState string `yaml:"initial_state"`
	// Jitter spreads the start of each probe in a round over up to this long
	// (default: 10% of connect_interval, at most 1s).
	Jitter time.Duration `yaml:"jitter"`
	// FastInterval re-checks a target this long after a result that left it
	// part-way to failure_threshold or recovery_threshold, instead of at the
	// next interval (HAProxy's fastinter). 0 (the default) is off; else
	// 1s..min(connect_interval, deep_interval).
	FastInterval time.Duration `yaml:"fast_interval"`
	// DownInterval probes a target that is down (and not part-way back up)
	// this long after its last result instead of at connect_interval and
	// deep_interval (HAProxy's downinter). 0 (the default) keeps the
	// intervals; else 1s..24h, shorter or longer than them (down_interval.go).
	DownInterval time.Duration `yaml:"down_interval"`
	// HeloName is the name smtp and lmtp checks send with EHLO/LHLO
	// (HAProxy's option smtpchk EHLO <domain>); a target may override it.
	// Empty: localhost.localdomain.
	HeloName string `yaml:"helo_name"`
	// ConnectCheck is what a connect-only check of a mail target does
	// after connecting: greeting (default) or tcp (connect_check.go); a
	// target may override it.
	ConnectCheck string   `yaml:"connect_check"`
	Targets      []Target `yaml:"targets"`
}

// Initial states.
const (
	InitialHealthy   = "healthy"
	InitialUnhealthy = "unhealthy"
)

// Target is one backend to probe. After Load, the timeouts hold their
// effective values (per-target override or the global one), TLSMode the
// effective mode and TestPassword the content of TestPasswordFile if given.
type Target struct {
	Name       string `yaml:"name"`
	Protocol   string `yaml:"protocol"` // imap pop3 lmtp smtp sieve http tcp
	Host       string `yaml:"host"`
	Port       int    `yaml:"port"`
	RequestURI string `yaml:"request_uri"`
	// ExpectedStatus, ExpectedText and Headers are the http check's
	// expectation and extra request headers, as beta_health's
	// (target_http.go). After Load, ExpectedStatus of an http target is
	// never empty ([200] when left out).
	ExpectedStatus []int             `yaml:"expected_status"`
	ExpectedText   string            `yaml:"expected_text"`
	Headers        map[string]string `yaml:"headers"`
	// RequestMethod, RequestBody and DrainOnStatus: the http check's
	// method (GET when left out), body and drain answers
	// (target_http_request.go). After Load, RequestMethod is upper case.
	RequestMethod string `yaml:"request_method"`
	RequestBody   string `yaml:"request_body"`
	DrainOnStatus []int  `yaml:"drain_on_status"`
	// TCPSteps is a tcp target's deep check: send and expect steps in
	// order (target_tcp.go).
	TCPSteps []TCPStep `yaml:"tcp_steps"`
	// HeloName overrides the service's helo_name for an smtp or lmtp
	// target; after Load it holds the effective name ("" for the default).
	HeloName string `yaml:"helo_name"`
	// ConnectCheck overrides the service's connect_check; after Load it
	// holds the effective value (tcp for http).
	ConnectCheck     string        `yaml:"connect_check"`
	TestUsername     string        `yaml:"test_username"`
	TestPassword     string        `yaml:"test_password"`
	TestPasswordFile string        `yaml:"test_password_file"`
	AuthMechanism    string        `yaml:"auth_mechanism"` // auto | PLAIN | LOGIN | USERPASS | BASIC
	DeepCheck        bool          `yaml:"deep_check"`
	TLS              bool          `yaml:"tls"`
	TLSMode          string        `yaml:"tls_mode"` // plain | implicit | starttls
	TLSSkipVerify    bool          `yaml:"tls_skip_verify"`
	TLSCAFile        string        `yaml:"tls_ca_file"`
	TLSServerName    string        `yaml:"tls_server_name"`
	HAProxyV2        bool          `yaml:"haproxy_v2"`
	HAProxyV2Command string        `yaml:"haproxy_v2_command"` // local (default) | proxy
	ConnectTimeout   time.Duration `yaml:"connect_timeout"`
	TLSTimeout       time.Duration `yaml:"tls_timeout"`
	DeepTimeout      time.Duration `yaml:"deep_timeout"`
	// TLSCertFile and TLSKeyFile are the client certificate (mTLS) the
	// check presents when the server asks; see target_clientcert.go.
	TLSCertFile string `yaml:"tls_cert_file"`
	TLSKeyFile  string `yaml:"tls_key_file"`
	// ClientCert is the pair validation loaded from them (nil: none).
	ClientCert *tls.Certificate `yaml:"-"`
	// NoSecretsAbsent is set by check --no-secrets only, when a TLS file
	// is missing on this machine: the keys stay as written, and probes go
	// without what is missing. Nil otherwise.
	NoSecretsAbsent *NoSecretsAbsentTLS `yaml:"-"`
	// AllowPlaintextAuth lets a deep check send credentials without TLS. Only
	// for loopback lab setups; validation refuses it for other hosts.
	AllowPlaintextAuth bool `yaml:"allow_plaintext_auth"`
	// ProxyPort is the port proxies (nginx's mail proxy, a Dovecot proxy)
	// connect to, when it is not the checked one: nginx speaks only plain
	// text to its upstream, so an implicit-TLS target needs its plain or
	// STARTTLS port here to be handed to nginx. 0: the checked port.
	ProxyPort int `yaml:"proxy_port"`
	// Weight is the target's share for weighted policies, 0..256; nil (left
	// out) means 1. Weight 0 keeps a healthy target out of rotation.
	Weight *int `yaml:"weight"`
	// Backup keeps the target out of selection while another target of its
	// protocol that is not a backup is eligible (HAProxy's backup server).
	Backup bool `yaml:"backup"`
	// Agent is the target's agent check (target_agent.go); nil: none.
	Agent *TargetAgent `yaml:"agent"`
}

// EffectiveWeight is the configured weight, 1 when left out.
func (t Target) EffectiveWeight() int {
	if t.Weight == nil {
		return 1
	}
	return *t.Weight
}

// Protocols, TLS modes, mechanisms.
const (
	ProtoIMAP  = "imap"
	ProtoPOP3  = "pop3"
	ProtoLMTP  = "lmtp"
	ProtoSMTP  = "smtp"
	ProtoSieve = "sieve"
	ProtoHTTP  = "http"
	// ProtoTCP is a service of no known protocol, checked with tcp_steps.
	ProtoTCP = "tcp"

	TLSPlain    = "plain"
	TLSImplicit = "implicit"
	TLSStartTLS = "starttls"

	MechAuto     = "auto"
	MechPlain    = "PLAIN"
	MechLogin    = "LOGIN"
	MechUserPass = "USERPASS"
	MechBasic    = "BASIC"
)
