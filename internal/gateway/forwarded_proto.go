package gateway

import "strings"

// maxProtoLen bounds a scheme taken from X-Forwarded-Proto ("https" is 5).
const maxProtoLen = 16

// proto is the client's scheme as a trusted proxy's
// X-Forwarded-Proto tells it (the caller checked that the peer is one),
// nil when it tells nothing usable (missing, only empty elements, not a
// scheme): then the gateway's own view holds.
//
// One element (nginx's proxy_set_header X-Forwarded-Proto $scheme,
// Caddy, HAProxy's set-header: the usual setups) is the proxy's word. A
// list ("https, http", from proxies that append, lines counting as one
// list) is read as X-Forwarded-For is, at the same place: each proxy
// that appends adds one element for the hop it received, so the element
// for the client's hop is as far from the right as the client's entry
// in X-Forwarded-For (forwardedView.clientPlace) less one. With the client's
// entry first and one element per proxy that is the first element, the
// scheme the first proxy saw; elements further left are what the client
// itself sent and cannot make it https. A list shorter than the walk
// (some proxies passed it on without appending) gives its leftmost
// element. Empty elements count (elementFromRight): one at the place read
// tells nothing. The result is lower case, "https" and "http" without an
// allocation.
func (v *forwardedView) proto() []string {
	values := v.r.Header["X-Forwarded-Proto"]
	if len(values) == 0 {
		return nil
	}
	return schemeValue(v.listElement(values))
}

// elementFromRight is the element of the list values (lines joined by
// commas, RFC 9110 5.3) at index k from the right, the leftmost when the
// list is shorter, without the spaces and tabs around it. Empty elements
// keep their place: an empty element is a missing value where it stands
// ("" here, so the gateway's own view holds), never a reason to read the
// next one. RFC 9110 5.6.1 lets a recipient ignore empty elements, but
// this list is read by position: skipping one that a trusted proxy
// appended (a variable of its that was unset) would move the read one
// place left, onto the value the client sent itself. It does not
// allocate, and reads at most k+1 elements from the right (or the whole
// list when it is shorter).
func elementFromRight(values []string, k int) string {
	last := ""
	for l := newListFromRight(values); ; k-- {
		elem, ok := l.next()
		if !ok {
			return last
		}
		last = strings.Trim(elem, " \t")
		if k == 0 {
			return last
		}
	}
}

// schemeValue is s as a one-value X-Forwarded-Proto, lower case (schemes
// are case-insensitive, RFC 3986 3.1), nil when s is not a scheme
// (ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), at most maxProtoLen bytes).
func schemeValue(s string) []string {
	// The lengths first: strings.EqualFold folds Unicode ("httpſ", with
	// U+017F, would match "https"); same length means ASCII only here.
	switch {
	case len(s) == len("https") && strings.EqualFold(s, "https"):
		return forwardedProtoHTTPS
	case len(s) == len("http") && strings.EqualFold(s, "http"):
		return forwardedProtoHTTP
	case s == "" || len(s) > maxProtoLen || !isAlpha(s[0]):
		return nil
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isAlpha(c) && (c < '0' || c > '9') && c != '+' && c != '-' && c != '.' {
			return nil
		}
	}
	return []string{strings.ToLower(s)}
}

func isAlpha(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}
