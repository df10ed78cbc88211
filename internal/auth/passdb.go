package auth

import (
	"context"
)

// Backend numbers of the json endpoint (Nauthilus's enum): 0 unknown,
// 1 cache, 2 ldap, 3 lua, 4 test, 5 local cache, 6 remote, 7 plugin.
const (
	backendUnknown    = 0
	backendLua        = 3
	backendLocalCache = 5
	backendRemote     = 6
	backendPlugin     = 7
)

// Attributes are the values a password database or filter attaches to a
// user; every value is a list, as in Nauthilus.
type Attributes map[string][]any

func (a Attributes) clone() Attributes {
	if a == nil {
		return nil
	}
	out := make(Attributes, len(a))
	for k, v := range a {
		out[k] = append([]any(nil), v...)
	}
	return out
}

// passResult is one password database's answer.
type passResult struct {
	// UserFound says the database knows the user and therefore decides.
	UserFound     bool
	Authenticated bool
	Account       string
	AccountField  string
	Attributes    Attributes
	Backend       int
	DB            string // name for logs
	// LogFields are a Lua passdb's custom_log_add pairs (key, value, ...),
	// for the request log line as filterOutcome.LogFields. A database
	// that answered with an error may still carry them.
	LogFields []any
}

// passdb is one password database. An error means the database could not
// answer (unreachable, broken script): the request tempfails.
type passdb interface {
	name() string
	check(ctx context.Context, req *Request) (passResult, error)
}
