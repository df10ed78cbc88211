package config

// Placeholders for the Lua and auth sections; replaced by their own files.

// Lua is the lua section (filters, VM pool).
type Lua struct{}

// Passdb is one password database entry under auth.passdb.
type Passdb struct{}

// AuthCache is the positive authentication cache.
type AuthCache struct{}

// Nginx configures the nginx auth_http responder.
type Nginx struct{}

// validateAuth checks the lua and auth.passdb/cache/nginx sections.
func (c *Config) validateAuth(errs *Errors) {}
