package config

import "strings"

// MinAuthCacheKeyLen is the shortest auth.cache.hmac_key_file content
// accepted: the key guards password-derived HMACs stored in a shared Redis,
// so it must not be guessable (32 random bytes, e.g. `openssl rand -hex 32`).
const MinAuthCacheKeyLen = 32

const authCacheKeyPath = "auth.cache.hmac_key_file"

// validateAuthCacheKey loads auth.cache.hmac_key_file. With storage.redis
// it is what shares the cache: every instance must compute the same key for
// the same login, which a per-process random key (the memory cache's)
// cannot give. Without it the cache stays per instance (a warning says so)
// rather than failing the load, so a storage.redis block copied for the
// other shared state keeps working.
func (v *validator) validateAuthCacheKey() {
	ac := &v.c.Auth.Cache
	if ac.HMACKeyFile == "" {
		if v.written[authCacheKeyPath] {
			v.add(authCacheKeyPath, "must name a file (leave it out to keep the cache per instance)")
		}
		return
	}
	key, ok := v.secretFile(authCacheKeyPath, ac.HMACKeyFile)
	if !ok {
		return
	}
	if n := len(strings.TrimSpace(key)); n < MinAuthCacheKeyLen {
		v.add(authCacheKeyPath, "file %q must hold at least %d bytes of secret (for example the output of `openssl rand -hex 32`), got %d", ac.HMACKeyFile, MinAuthCacheKeyLen, n)
		return
	}
	ac.HMACKey = []byte(key)
}

// SharedAuthCache reports whether the positive auth cache is shared
// through storage.redis: Redis, the cache on, and a key file.
func (c *Config) SharedAuthCache() bool {
	return c.Storage.Redis != nil && c.Auth.Cache.EffectiveTTL() > 0 && len(c.Auth.Cache.HMACKey) > 0
}

// authCacheWarnings says when storage.redis leaves the cache per instance.
func (c *Config) authCacheWarnings(warn func(path, format string, args ...any)) {
	if c.Storage.Redis != nil && c.Auth.Cache.EffectiveTTL() > 0 && c.Auth.Cache.HMACKeyFile == "" {
		warn(redisPath, "the auth cache stays per instance: set auth.cache.hmac_key_file (a secret of at least %d bytes, e.g. `openssl rand -hex 32`) to share it through Redis", MinAuthCacheKeyLen)
	}
}
