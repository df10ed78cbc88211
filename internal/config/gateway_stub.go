package config

// Placeholders for the gateway sections; replaced by their own file.

// Definitions holds named HTTP backends.
type Definitions struct{}

// Gateway is the HTTP gateway listener and its endpoints.
type Gateway struct{}

// validateGateway checks definitions and gateway.
func (c *Config) validateGateway(errs *Errors) {}
