package gateway

import (
	"net/netip"
	"strings"

	"github.com/backline/backline/internal/textutil"
)

// maxForwardedHostLen bounds a host taken from X-Forwarded-Host, port
// included: a DNS name has at most 253 bytes, and a longer claim is not a
// name an origin should build its links on.
const maxForwardedHostLen = 255

// validForwardedHost reports whether s is a host as a Host field carries
// it (RFC 9110 7.2, RFC 3986 3.2.2): a reg-name or IPv4 address, or an
// IPv6 address in brackets (no zone, no IPvFuture), then optionally ':'
// and a port of one to five digits up to 65535. A trusted proxy's
// X-Forwarded-Host that is not one (spaces, '@' or '/' from a URL, a bare
// IPv6 address, an empty or oversized value) is ignored, as nginx and
// Caddy users expect of a bad host claim: the origin sees the Host the
// gateway got instead, never a value to put in its links and redirects.
func validForwardedHost(s string) bool {
	if s == "" || len(s) > maxForwardedHostLen {
		return false
	}
	host, port, hasPort := s, "", false
	if s[0] == '[' {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return false
		}
		host, port = s[1:end], s[end+1:]
		if port != "" {
			if port[0] != ':' {
				return false
			}
			port, hasPort = port[1:], true
		}
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is6() || a.Zone() != "" {
			return false
		}
	} else {
		if i := strings.LastIndexByte(s, ':'); i >= 0 {
			host, port, hasPort = s[:i], s[i+1:], true
		}
		if !validRegName(host) {
			return false
		}
	}
	return !hasPort || validPort(port)
}

// validRegName reports whether s is a non-empty RFC 3986 reg-name
// (unreserved, pct-encoded and sub-delims; an IPv4 address is one too).
func validRegName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isAlpha(c), '0' <= c && c <= '9', strings.IndexByte("-._~!$&'()*+,;=", c) >= 0:
		case c == '%' && i+2 < len(s) && textutil.IsHexDigit(s[i+1]) && textutil.IsHexDigit(s[i+2]):
			i += 2
		default:
			return false
		}
	}
	return true
}

// validPort reports whether s is a TCP port: one to five digits, at most
// 65535.
func validPort(s string) bool {
	if s == "" || len(s) > 5 {
		return false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n <= 65535
}
