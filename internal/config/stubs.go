package config

// Placeholders for sections owned by later work; each moves to its own file.

// Lua is the lua section (filters, VM pool).
type Lua struct{}

// Passdb is one password database entry under auth.passdb.
type Passdb struct{}

// AuthCache is the positive authentication cache.
type AuthCache struct{}

// Nginx configures the nginx auth_http responder.
type Nginx struct{}

// Definitions holds named HTTP backends.
type Definitions struct{}

// Gateway is the HTTP gateway listener and its endpoints.
type Gateway struct{}
