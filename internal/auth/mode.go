package auth

import (
	"net/url"
)

// Request modes (the ?mode= query parameter, as Nauthilus reads it).
const (
	modeLogin        = ""
	modeNoAuth       = "no-auth"       // userdb lookup: does the user exist?
	modeListAccounts = "list-accounts" // Dovecot's auth_userdb_iterate
)

// parseMode reads ?mode=. An unknown mode is refused rather than taken for
// a login: a client asking for a lookup must not get a login's answer.
// checkSingleValued has refused a repeated mode already; parseMode still
// refuses one for callers that did not check.
func parseMode(q url.Values) (string, error) {
	vs := q["mode"]
	switch {
	case len(vs) == 0:
		return modeLogin, nil
	case len(vs) > 1:
		return "", badRequest("query parameter mode is sent %d times; send it once", len(vs))
	}
	switch vs[0] {
	case modeNoAuth, modeListAccounts, modeLogin:
		return vs[0], nil // "?mode=" is a login, as in Nauthilus
	}
	return "", badRequest("unsupported mode %s (use no-auth or list-accounts)", quoteValue(vs[0]))
}
