package auth

// VerifyPasswordField checks password against one passwd-file password
// field ("{SCHEME}hash" or a "$id$" crypt hash), as a login would. It is
// exported for tools (benchmarks, a future CLI); an error means the field
// itself is unusable.
func VerifyPasswordField(field, password string) (bool, error) {
	sp, err := parseStoredPassword(field)
	if err != nil {
		return false, err
	}
	return sp.verify(password)
}
