package config

import (
	"fmt"
	"time"

	"github.com/backline/backline/internal/passwdfile"
)

// Passdb types.
const (
	PassdbPasswdFile   = "passwd_file"
	PassdbLua          = "lua"
	PassdbBackendLogin = "backend_login"
)

// Default policies for picking a backend when no filter selected one.
const (
	PolicyFirst      = "first"
	PolicyRoundRobin = "round_robin"
	PolicyUserHash   = "user_hash"
	// PolicyWeightedRoundRobin is nginx's smooth weighted round robin.
	PolicyWeightedRoundRobin = "weighted_round_robin"
	// PolicySticky keeps a user on the backend it was given last (user
	// affinity, shared through storage.redis), else chooses as user_hash.
	PolicySticky = "sticky"
)

// Affinity TTL: default like Dovecot director's user expiry, and bounds.
const (
	DefaultAffinityTTL = 15 * time.Minute
	MinAffinityTTL     = time.Second
	MaxAffinityTTL     = 30 * 24 * time.Hour
)

// Defaults of the auth section.
const (
	DefaultAuthCacheTTL        = 60 * time.Second
	DefaultAuthCacheMaxEntries = 100000
	DefaultFailureMessage      = "Invalid login or password"
	DefaultTempfailMessage     = "Temporary server problem, try again later"
	DefaultWaitDelay           = 10
	DefaultMaxWaitAttempts     = 20
	DefaultNoBackendWait       = 5
)

// Passdb is one password database entry under auth.passdb. The list is tried
// in order; the first database that knows the user decides.
type Passdb struct {
	// Name labels the database in logs; defaults to the type.
	Name string `yaml:"name"`
	Type string `yaml:"type"` // passwd_file | lua | backend_login
	// Path is the Dovecot-style passwd-file (type passwd_file).
	Path string `yaml:"path"`
	// ScriptPath is the Lua backend script (type lua).
	ScriptPath string `yaml:"script_path"`
	// Protocol of the health-check targets a backend_login tries; empty means
	// the protocol of the request.
	Protocol string `yaml:"protocol"`
}

// AuthCache is the positive authentication cache. Pointers tell "not set"
// (default) from an explicit 0.
type AuthCache struct {
	TTL        *time.Duration `yaml:"ttl"`         // default 60s, 0 disables
	MaxEntries *int           `yaml:"max_entries"` // default 100000
	// HMACKeyFile names the secret the cache keys are HMACs under; required
	// with storage.redis (instances must agree on keys). After Parse,
	// HMACKey holds its content (authcache_key.go).
	HMACKeyFile string `yaml:"hmac_key_file"`
	HMACKey     []byte `yaml:"-"`
}

// EffectiveTTL is the configured TTL or the default.
func (c AuthCache) EffectiveTTL() time.Duration {
	if c.TTL == nil {
		return DefaultAuthCacheTTL
	}
	return *c.TTL
}

// EffectiveMaxEntries is the configured size or the default.
func (c AuthCache) EffectiveMaxEntries() int {
	if c.MaxEntries == nil {
		return DefaultAuthCacheMaxEntries
	}
	return *c.MaxEntries
}

// Nginx configures the nginx auth_http responder (and the failure texts the
// header and json endpoints share).
type Nginx struct {
	FailureMessage  string `yaml:"failure_message"`
	TempfailMessage string `yaml:"tempfail_message"`
	// WaitDelay scales Auth-Wait after a failed login; 0 turns Auth-Wait off
	// (Nauthilus 3 silently replaces 0 by 10).
	WaitDelay *int `yaml:"wait_delay"`
	// MaxWaitAttempts stops Auth-Wait once Auth-Login-Attempt exceeds it:
	// nginx keeps memory per attempt in a session.
	MaxWaitAttempts *int   `yaml:"max_wait_attempts"`
	DefaultPolicy   string `yaml:"default_policy"` // first | round_robin | user_hash | weighted_round_robin | sticky
	// AffinityTTL is how long the sticky policy keeps a user's backend
	// after the user's last login (refreshed on each); default 15 minutes.
	AffinityTTL *time.Duration `yaml:"affinity_ttl"`
	// Panic says what selection does when too few backends are eligible
	// (auth_panic.go).
	Panic Panic `yaml:"panic"`
	// NoBackendWait is the Auth-Wait sent with a tempfail when no backend of
	// the protocol is healthy.
	NoBackendWait *int `yaml:"no_backend_wait"`
	// NoBackendHold is how long nginx is told to hold a login (Auth-Status:
	// WAIT) while no backend is eligible; 0, the default, answers the
	// tempfail at once (auth_hold.go).
	NoBackendHold *time.Duration `yaml:"no_backend_hold"`
}

// EffectiveFailureMessage is the failure text or the default.
func (n Nginx) EffectiveFailureMessage() string {
	return orDefault(n.FailureMessage, DefaultFailureMessage)
}

// EffectiveTempfailMessage is the tempfail text or the default.
func (n Nginx) EffectiveTempfailMessage() string {
	return orDefault(n.TempfailMessage, DefaultTempfailMessage)
}

// EffectiveWaitDelay is wait_delay or the default.
func (n Nginx) EffectiveWaitDelay() int { return intOr(n.WaitDelay, DefaultWaitDelay) }

// EffectiveMaxWaitAttempts is max_wait_attempts or the default.
func (n Nginx) EffectiveMaxWaitAttempts() int {
	return intOr(n.MaxWaitAttempts, DefaultMaxWaitAttempts)
}

// EffectiveNoBackendWait is no_backend_wait or the default.
func (n Nginx) EffectiveNoBackendWait() int { return intOr(n.NoBackendWait, DefaultNoBackendWait) }

// EffectiveDefaultPolicy is default_policy or user_hash.
func (n Nginx) EffectiveDefaultPolicy() string { return orDefault(n.DefaultPolicy, PolicyUserHash) }

// EffectiveAffinityTTL is affinity_ttl or the default.
func (n Nginx) EffectiveAffinityTTL() time.Duration {
	if n.AffinityTTL == nil {
		return DefaultAffinityTTL
	}
	return *n.AffinityTTL
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func intOr(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}

// validateAuth checks auth.passdb, auth.cache and auth.nginx.
func (c *Config) validateAuth(errs *Errors) {
	for i, db := range c.Auth.Passdb {
		c.validatePassdb(errs, fmt.Sprintf("auth.passdb[%d]", i), db)
	}

	if c.Auth.Cache.MaxEntries != nil && *c.Auth.Cache.MaxEntries < 1 {
		path := "auth.cache.max_entries"
		errs.Add(path, c.Lines.Line(path), "must be at least 1, got %d (set ttl: 0 to disable the cache)", *c.Auth.Cache.MaxEntries)
	}
	if ttl := c.Auth.Cache.EffectiveTTL(); ttl > 24*time.Hour {
		path := "auth.cache.ttl"
		errs.Add(path, c.Lines.Line(path), "must be at most 24h, got %s", ttl)
	}

	n := c.Auth.Nginx
	for _, f := range []struct {
		key string
		val *int
		max int
	}{
		{"wait_delay", n.WaitDelay, 3600},
		{"max_wait_attempts", n.MaxWaitAttempts, 1000},
		{"no_backend_wait", n.NoBackendWait, 3600},
	} {
		if f.val == nil {
			continue
		}
		if *f.val < 0 || *f.val > f.max {
			path := "auth.nginx." + f.key
			errs.Add(path, c.Lines.Line(path), "must be between 0 and %d, got %d", f.max, *f.val)
		}
	}
	switch n.DefaultPolicy {
	case "", PolicyFirst, PolicyRoundRobin, PolicyUserHash, PolicyWeightedRoundRobin, PolicySticky:
	default:
		path := "auth.nginx.default_policy"
		errs.Add(path, c.Lines.Line(path), "unknown policy %q (use first, round_robin, user_hash, weighted_round_robin or sticky)", n.DefaultPolicy)
	}
	if ttl := n.EffectiveAffinityTTL(); ttl < MinAffinityTTL || ttl > MaxAffinityTTL {
		path := "auth.nginx.affinity_ttl"
		errs.Add(path, c.Lines.Line(path), "must be between %s and %s, got %s", MinAffinityTTL, "720h", ttl)
	}
	c.validatePanic(errs, n.Panic)
	c.validateHold(errs, n)
	for key, msg := range map[string]string{"failure_message": n.FailureMessage, "tempfail_message": n.TempfailMessage} {
		if containsControl(msg) {
			path := "auth.nginx." + key
			errs.Add(path, c.Lines.Line(path), "must not contain control characters (it becomes an HTTP header)")
		}
	}
}

func (c *Config) validatePassdb(errs *Errors, path string, db Passdb) {
	add := func(key, format string, args ...any) {
		p := path
		if key != "" {
			p = path + "." + key
		}
		errs.Add(p, c.Lines.Line(p), format, args...)
	}
	if msg := checkName(db.Name); db.Name != "" && msg != "" {
		add("name", "%s", msg)
	}
	switch db.Type {
	case PassdbPasswdFile:
		if db.Path == "" {
			add("path", "is required for type passwd_file")
			return
		}
		// The auth passdb's own parser: what check accepts, serve loads.
		// The entries are dropped and the passdb parses the file again:
		// handing them over would keep every hash in the Config for as
		// long as it lives, to save a parse of tens of milliseconds per
		// 100k users.
		_, err := passwdfile.Load(db.Path)
		if err != nil && c.noSecrets && absentHere(err) {
			// The file holds password hashes: --no-secrets checks without it.
			p := path + ".path"
			c.noSecretWarnings = append(c.noSecretWarnings, Error{Path: p, Line: c.Lines.Line(p),
				Msg: err.Error() + " (--no-secrets: checked without it)"})
			return
		}
		if err != nil {
			add("path", "%v", err)
			return
		}
	case PassdbLua:
		if db.ScriptPath == "" {
			add("script_path", "is required for type lua")
			return
		}
		// As the lua section's scripts: a directory or FIFO that a stat
		// lets through fails at start, without its key.
		if err := checkReadable(db.ScriptPath); err != nil {
			add("script_path", "%v", err)
		}
	case PassdbBackendLogin:
		switch db.Protocol {
		case "", ProtoIMAP, ProtoPOP3, ProtoSMTP, ProtoLMTP, ProtoSieve, ProtoHTTP:
		default:
			add("protocol", "unknown protocol %q (use imap, pop3, smtp, lmtp, sieve or http; empty means the request's)", db.Protocol)
		}
	case "":
		add("type", "is required (passwd_file, lua or backend_login)")
	default:
		add("type", "unknown passdb type %q (use passwd_file, lua or backend_login)", db.Type)
	}
	if db.Path != "" && db.Type != PassdbPasswdFile {
		add("path", "only applies to type passwd_file")
	}
	if db.ScriptPath != "" && db.Type != PassdbLua {
		add("script_path", "only applies to type lua")
	}
	if db.Protocol != "" && db.Type != PassdbBackendLogin {
		add("protocol", "only applies to type backend_login")
	}
}

func containsControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}
