package config

// Placeholder for the lua section; replaced by lua.go.

// Lua is the lua section (filters, VM pool).
type Lua struct{}

// validateLua checks the lua section.
func (c *Config) validateLua(errs *Errors) {}
