package config

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// OriginEntry is one of a backend's origins: an absolute http(s) URL whose
// scheme and host:port are used (as for origin), a weight for the
// weighted policy and whether it is a backup.
type OriginEntry struct {
	Origin string `yaml:"origin"`
	Weight *int   `yaml:"weight"`
	// Backup: the origin takes requests only when no other origin of the
	// backend that is not a backup is admitted (HAProxy's backup server).
	Backup bool `yaml:"backup"`
	Line   int  `yaml:"-"`
}

// OriginList is origins: each entry a URL ("http://a:8080") or a mapping
// with origin, weight and backup.
type OriginList []OriginEntry

// DecodeNode implements NodeDecoder.
func (ol *OriginList) DecodeNode(d *Decoder, n *yaml.Node, path string) {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, path, "must be a list of origins")
		return
	}
	out := make(OriginList, len(n.Content))
	for i, c := range n.Content {
		p := fmt.Sprintf("%s[%d]", path, i)
		d.Lines[p] = c.Line
		out[i].Line = c.Line
		switch c.Kind {
		case yaml.ScalarNode:
			if s, ok := d.scalar(c, p); ok {
				out[i].Origin = s
			}
		case yaml.MappingNode:
			d.decode(c, reflectValue(&out[i]), p)
		default:
			d.errorf(c, p, "must be an origin URL or a mapping with origin, weight and backup")
		}
	}
	*ol = out
}

// PassiveHealth is passive_health: Envoy's outlier detection on live
// traffic (consecutive 5xx, connect failures counted as 5xx as Envoy does
// without split_external_local_origin_errors).
type PassiveHealth struct {
	Consecutive5xx     int           `yaml:"consecutive_5xx"`
	Interval           time.Duration `yaml:"interval"`
	BaseEjectionTime   time.Duration `yaml:"base_ejection_time"`
	MaxEjectionTime    time.Duration `yaml:"max_ejection_time"`
	MaxEjectionPercent int           `yaml:"max_ejection_percent"`
}

// Load balancing policies and passive health defaults (Envoy's where it has
// one; see docs/gateway.md for the mapping).
const (
	BalanceRoundRobin       = "round_robin"
	BalanceLeastConnections = "least_connections"
	BalanceWeighted         = "weighted"
	BalanceRandom           = "random"
	BalanceP2C              = "p2c" // power of two choices
	BalanceClientIPHash     = "client_ip_hash"
	BalanceHeaderHash       = "header_hash"
	BalanceCookieHash       = "cookie_hash"
	BalanceURIHash          = "uri_hash"

	DefaultRetries             = 1
	MaxRetries                 = 10
	MaxOrigins                 = 256
	MaxOriginWeight            = 256
	DefaultConsecutive5xx      = 5
	DefaultPassiveInterval     = 10 * time.Second
	DefaultBaseEjectionTime    = 30 * time.Second
	DefaultMaxEjectionTime     = 300 * time.Second
	DefaultMaxEjectionPercent  = 50
	maxConsecutive5xx          = 1000
	minPassiveEjectionDuration = 100 * time.Millisecond
)

// HasSeveralOrigins reports whether the backend lists origins (even one):
// it is then balanced over them and each is a health target of its own.
func (b *Backend) HasSeveralOrigins() bool { return len(b.Origins) > 0 }

// validateOrigins checks origins, load_balancing (with hash_key and
// slow_start), retries, retry_on and passive_health and fills their
// defaults.
func (v *gatewayValidator) validateOrigins(path string, b *Backend) {
	if b.Has("origins") {
		if b.Has("origin") {
			v.add(path+".origins", "origin and origins are mutually exclusive; list every origin under origins")
		}
		if len(b.Origins) == 0 {
			v.add(path+".origins", "must list at least one origin")
		}
		if len(b.Origins) > MaxOrigins {
			v.add(path+".origins", "must list at most %d origins, got %d", MaxOrigins, len(b.Origins))
		}
		seen := map[string]int{}
		for i := range b.Origins {
			o := &b.Origins[i]
			p := fmt.Sprintf("%s.origins[%d]", path, i)
			switch {
			case o.Origin == "":
				v.add(p, "origin must not be empty")
				continue
			case strings.Contains(o.Origin, "${"):
				v.add(p, "must be a fixed URL (each origin is a health target); templates are not allowed")
				continue
			}
			if msg := checkOrigin(o.Origin); msg != "" {
				v.add(p, "%s", msg)
				continue
			}
			key := originKey(o.Origin)
			if prev, dup := seen[key]; dup {
				v.add(p, "duplicates origins[%d] (%s)", prev, key)
			}
			seen[key] = i
			if o.Weight == nil {
				o.Weight = ptr(1)
			} else if *o.Weight < 0 || *o.Weight > MaxOriginWeight {
				v.add(p+".weight", "must be 0..%d, got %d", MaxOriginWeight, *o.Weight)
			}
		}
	}
	v.validateBalance(path, b)
	if b.Retries == nil {
		b.Retries = ptr(DefaultRetries)
	} else if *b.Retries < 0 || *b.Retries > MaxRetries {
		v.add(path+".retries", "must be 0..%d, got %d", MaxRetries, *b.Retries)
	}
	v.validateRetryOn(path, b)
	if !b.Has("origins") {
		for _, key := range []string{"load_balancing", "retries", "retry_on", "hash_key", "hash_cookie_set", "slow_start"} {
			if b.Has(key) {
				v.add(path+"."+key, "needs origins (a backend with one origin has nothing to balance or retry on)")
			}
		}
	}
	if b.PassiveHealth != nil {
		v.validatePassive(path+".passive_health", b)
	}
	v.validatePanicThreshold(path, b)
}

// originKey is an origin's scheme://host:port with the default port made
// explicit, so two spellings of one origin are found to be duplicates.
func originKey(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Hostname()) + ":" + port
}

func (v *gatewayValidator) validatePassive(path string, b *Backend) {
	p := b.PassiveHealth
	if !b.Has("origins") {
		// Ejection works per origin; one origin is written origins: [url].
		// The origin is not echoed: it may carry credentials.
		v.add(path, "needs origins (write a single origin as origins: [<url>])")
	}
	written := func(key string) bool { return v.c.Lines[path+"."+key] > 0 }
	if !written("consecutive_5xx") {
		p.Consecutive5xx = DefaultConsecutive5xx
	} else if p.Consecutive5xx < 1 || p.Consecutive5xx > maxConsecutive5xx {
		v.add(path+".consecutive_5xx", "must be 1..%d, got %d", maxConsecutive5xx, p.Consecutive5xx)
	}
	if !written("interval") {
		p.Interval = DefaultPassiveInterval
	} else if p.Interval < minPassiveEjectionDuration {
		v.add(path+".interval", "must be at least %s, got %s", minPassiveEjectionDuration, p.Interval)
	}
	if !written("base_ejection_time") {
		p.BaseEjectionTime = DefaultBaseEjectionTime
	} else if p.BaseEjectionTime < minPassiveEjectionDuration {
		v.add(path+".base_ejection_time", "must be at least %s, got %s", minPassiveEjectionDuration, p.BaseEjectionTime)
	}
	if !written("max_ejection_time") {
		p.MaxEjectionTime = max(DefaultMaxEjectionTime, p.BaseEjectionTime)
	} else if p.MaxEjectionTime < p.BaseEjectionTime {
		v.add(path+".max_ejection_time", "must not be shorter than base_ejection_time (%s), got %s", p.BaseEjectionTime, p.MaxEjectionTime)
	}
	if !written("max_ejection_percent") {
		p.MaxEjectionPercent = DefaultMaxEjectionPercent
	} else if p.MaxEjectionPercent < 0 || p.MaxEjectionPercent > 100 {
		v.add(path+".max_ejection_percent", "must be 0..100, got %d", p.MaxEjectionPercent)
	}
}

// originsWarnings: a passive_health whose max_ejection_percent allows no
// ejection at all (say 50 % of one origin) is legal but does nothing; so
// is a retry_on written out with no retry possible (retries: 0, or one
// origin: a retry never goes to the origin that failed).
func (c *Config) originsWarnings(warn func(path, format string, args ...any)) {
	c.eachBackend(func(path string, b *Backend) {
		if len(b.Origins) == 0 {
			return
		}
		if b.Has("retry_on") && (len(b.Origins) == 1 || b.Retries != nil && *b.Retries == 0) {
			warn(path+".retry_on",
				"retry_on has no effect: a retry needs retries of at least 1 and a second origin (a retry never goes to the origin that failed)")
		}
		if p := b.PassiveHealth; p != nil && len(b.Origins)*p.MaxEjectionPercent/100 == 0 {
			warn(path+".passive_health",
				"max_ejection_percent %d of %d origin(s) allows no ejection: passive health never takes an origin out (100 allows all)",
				p.MaxEjectionPercent, len(b.Origins))
		}
	})
}
