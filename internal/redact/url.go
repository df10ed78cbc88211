package redact

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// URL is a URL as an error quotes it, its credentials withheld (Text),
// also when net/url cannot parse it: a password with an unencoded '/',
// '?', '#' or space ends the host early for net/url as for Text, so in a
// URL that does not parse all from "://" to the last '@' is taken for the
// user info.
func URL(raw string) string {
	if _, err := url.Parse(raw); err != nil {
		if from, to, ok := looseUserInfoPassword(raw); ok {
			raw = raw[:from] + Placeholder + raw[to:]
		}
	}
	return Text(raw)
}

// URLParseError is the text of err, net/url's error for raw, without
// credentials. net/url quotes raw, and whatever part of a broken password
// it took for a port or host (`invalid port ":pa" after host`), so with a
// password in raw its reason comes from parsing raw again with the
// password replaced.
func URLParseError(raw string, err error) string {
	from, to, ok := looseUserInfoPassword(raw)
	if !ok {
		return Text(err.Error())
	}
	shown := Text(raw[:from] + Placeholder + raw[to:])
	var uerr *url.Error
	if _, err := url.Parse(raw[:from] + "x" + raw[to:]); errors.As(err, &uerr) {
		return fmt.Sprintf("parse %q: %v", shown, uerr.Err)
	}
	return fmt.Sprintf("%q: the password in its user info must be percent-encoded", shown)
}

// looseUserInfoPassword finds the password of "scheme://user:password@…"
// taking the user info to run to the last '@'. Without "://" the user info
// starts the value: HTTP_PROXY is often "user:password@proxy:3128", and
// one net/url cannot parse is quoted whole.
func looseUserInfoPassword(raw string) (from, to int, ok bool) {
	start := 0
	if i := strings.Index(raw, "://"); i >= 0 {
		start = i + 3
	}
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
