package config

// Placeholders for the auth sections; replaced by auth.go.

// Passdb is one password database entry under auth.passdb.
type Passdb struct{}

// AuthCache is the positive authentication cache.
type AuthCache struct{}

// Nginx configures the nginx auth_http responder.
type Nginx struct{}

// validateAuth checks auth.passdb, auth.cache and auth.nginx.
func (c *Config) validateAuth(errs *Errors) {}
