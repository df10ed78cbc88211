package config

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/backline/backline/internal/redact"
)

// quoteURL is a configured URL as an error quotes it, its credentials
// withheld. A URL net/url cannot parse may hold a password with an
// unencoded '/', '?', '#' or space, which ends the host early for
// redact.Text as for net/url; there all from "://" to the last '@' is
// taken for the user info.
func quoteURL(raw string) string {
	if _, err := url.Parse(raw); err == nil {
		return redact.Text(raw)
	}
	if from, to, ok := looseUserInfoPassword(raw); ok {
		raw = raw[:from] + redact.Placeholder + raw[to:]
	}
	return redact.Text(raw)
}

// invalidURL is the error for a URL net/url refused. Its reason comes from
// parsing the URL again with the password replaced, since net/url quotes
// whatever part of a broken password it took for a port or host
// (`invalid port ":pa" after host`).
func invalidURL(raw string, err error) string {
	from, to, ok := looseUserInfoPassword(raw)
	if !ok {
		return "invalid url: " + redact.Text(err.Error())
	}
	shown := redact.Text(raw[:from] + redact.Placeholder + raw[to:])
	var uerr *url.Error
	if _, err := url.Parse(raw[:from] + "x" + raw[to:]); errors.As(err, &uerr) {
		return fmt.Sprintf("invalid url: parse %q: %v", shown, uerr.Err)
	}
	return fmt.Sprintf("invalid url %q: the password in its user info must be percent-encoded", shown)
}

// looseUserInfoPassword finds the password of "scheme://user:password@…"
// taking the user info to run to the last '@'.
func looseUserInfoPassword(raw string) (from, to int, ok bool) {
	i := strings.Index(raw, "://")
	if i < 0 {
		return 0, 0, false
	}
	start := i + 3
	at := strings.LastIndexByte(raw[start:], '@')
	if at < 0 {
		return 0, 0, false
	}
	colon := strings.IndexByte(raw[start:start+at], ':')
	if colon < 0 {
		return 0, 0, false
	}
	return start + colon + 1, start + at, true
}
