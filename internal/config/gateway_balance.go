package config

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"
)

// DefaultHashCookie is cookie_hash's cookie when hash_key is left out
// (Caddy's lb_policy cookie default name).
const DefaultHashCookie = "lb"

// Limits of hash_key and slow_start.
const (
	maxHashKeyLen = 256
	MaxSlowStart  = time.Hour
	minSlowStart  = time.Second
)

// BalancePolicies lists load_balancing's values in documentation order.
var BalancePolicies = []string{
	BalanceRoundRobin, BalanceLeastConnections, BalanceWeighted, BalanceRandom, BalanceP2C,
	BalanceClientIPHash, BalanceHeaderHash, BalanceCookieHash, BalanceURIHash,
}

// IsHashPolicy: the policy maps a request key to an origin (rendezvous
// hashing) instead of spreading requests.
func IsHashPolicy(policy string) bool {
	switch policy {
	case BalanceClientIPHash, BalanceHeaderHash, BalanceCookieHash, BalanceURIHash:
		return true
	}
	return false
}

// validateBalance checks load_balancing, hash_key, hash_cookie_set and
// slow_start and fills their defaults.
func (v *gatewayValidator) validateBalance(path string, b *Backend) {
	switch {
	case b.LoadBalancing == "":
		b.LoadBalancing = BalanceRoundRobin
	case !slices.Contains(BalancePolicies, b.LoadBalancing):
		v.add(path+".load_balancing", "must be one of %s, got %q", strings.Join(BalancePolicies, ", "), b.LoadBalancing)
	}
	switch b.LoadBalancing {
	case BalanceHeaderHash:
		if b.HashKey == "" {
			v.add(path+".load_balancing", "header_hash needs hash_key: the request header whose value is hashed")
		} else if msg := checkHashKey(b.HashKey, "header"); msg != "" {
			v.add(path+".hash_key", "%s", msg)
		}
	case BalanceCookieHash:
		if b.HashKey == "" {
			b.HashKey = DefaultHashCookie
		} else if msg := checkHashKey(b.HashKey, "cookie"); msg != "" {
			v.add(path+".hash_key", "%s", msg)
		}
	case BalanceURIHash:
		if b.Has("hash_key") {
			v.add(path+".hash_key", "needs load_balancing header_hash or cookie_hash (uri_hash always hashes the path)")
		}
	default:
		if b.Has("hash_key") {
			v.add(path+".hash_key", "needs load_balancing header_hash or cookie_hash")
		}
	}
	if b.HashCookieSet == nil {
		b.HashCookieSet = ptr(true)
	} else if b.LoadBalancing != BalanceCookieHash {
		v.add(path+".hash_cookie_set", "needs load_balancing cookie_hash")
	}
	if b.Has("slow_start") && b.SlowStart != 0 && (b.SlowStart < minSlowStart || b.SlowStart > MaxSlowStart) {
		v.add(path+".slow_start", "must be 0 (off) or %s..%s, got %s", minSlowStart, MaxSlowStart, b.SlowStart)
	}
}

// checkHashKey checks a header or cookie name: an HTTP token (RFC 9110
// field name, RFC 6265 cookie name: the same characters).
func checkHashKey(name, what string) string {
	if len(name) > maxHashKeyLen {
		return "must be a " + what + " name of at most " + strconv.Itoa(maxHashKeyLen) + " bytes"
	}
	if !httpguts.ValidHeaderFieldName(name) {
		return "must be a " + what + " name (letters, digits and !#$%&'*+-.^_`|~)"
	}
	return ""
}

// balanceWarnings: slow_start with a hash policy is legal but does
// nothing (a hash policy maps a user to one origin; there is no share to
// ramp, see docs/gateway.md).
func (c *Config) balanceWarnings(warn func(path, format string, args ...any)) {
	c.eachBackend(func(path string, b *Backend) {
		if len(b.Origins) > 0 && b.SlowStart > 0 && IsHashPolicy(b.LoadBalancing) {
			warn(path+".slow_start",
				"slow_start has no effect with load_balancing %s (hash policies send each user to its origin at once, as nginx and Envoy do)", b.LoadBalancing)
		}
		// The gateway sets Secure on such a cookie whatever the scheme
		// (browsers drop it otherwise), and a browser refuses a Secure
		// cookie sent over http: with no way for a client to arrive over
		// https, every request gets a new token.
		if len(b.Origins) > 0 && b.LoadBalancing == BalanceCookieHash && b.HashCookieSet != nil && *b.HashCookieSet && HasSecureCookiePrefix(b.HashKey) &&
			c.Gateway.TLS == nil && len(c.Gateway.TrustedProxies) == 0 {
			warn(path+".hash_key",
				"cookie %q is set with Secure (its prefix requires it), but the gateway has no tls and no trusted_proxies to report https: browsers drop a Secure cookie sent over http, so users would not stay on one origin", b.HashKey)
		}
	})
}

// HasSecureCookiePrefix: browsers accept a cookie named __Secure-* or
// __Host-* (matched without regard to case, RFC 6265bis 4.1.3) only with
// Secure.
func HasSecureCookiePrefix(name string) bool {
	for _, p := range [...]string{"__Secure-", "__Host-"} {
		if len(name) >= len(p) && strings.EqualFold(name[:len(p)], p) {
			return true
		}
	}
	return false
}
