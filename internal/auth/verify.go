package auth

import "github.com/backline/backline/internal/passhash"

// The password schemes live in internal/passhash so the Lua engine (which
// this package imports) can verify hashes too (nauthilus_password).
type storedPassword = passhash.Stored

func parseStoredPassword(field string) (storedPassword, error) { return passhash.Parse(field) }

// VerifyPasswordField checks password against one passwd-file password
// field ("{SCHEME}hash" or a "$id$" crypt hash), as a login would. It is
// exported for tools (benchmarks, a future CLI); an error means the field
// itself is unusable.
func VerifyPasswordField(field, password string) (bool, error) {
	return passhash.VerifyField(field, password)
}
