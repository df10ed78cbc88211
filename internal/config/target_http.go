package config

import (
	"fmt"
	"net/netip"
	"net/textproto"
	"sort"
	"strconv"
	"strings"
)

// DefaultTargetStatuses is expected_status of an http target left without
// one: the seed's rule (200 only), not beta_health's 200, 204, 301.
var DefaultTargetStatuses = []int{200}

// MaxExpectedText is the longest expected_text: the check reads at most
// this much of a body (probe.maxHTTPBody), so a longer text never matches.
const MaxExpectedText = 64 << 10

// DefaultHeloName is the EHLO/LHLO name when helo_name is left out.
const DefaultHeloName = "localhost.localdomain"

// httpOnlyKeys are the target keys of the http check's request and answer.
var httpOnlyKeys = []string{"request_uri", "expected_status", "expected_text", "headers",
	"request_method", "request_body", "drain_on_status"}

// validateHTTPCheck checks expected_status, expected_text and headers; on a
// target of another protocol each written one is an error naming it.
func (v *validator) validateHTTPCheck(key func(string) string, t *Target) {
	if t.Protocol != ProtoHTTP {
		for _, k := range httpOnlyKeys[1:] { // request_uri has its own message
			if v.written[key(k)] {
				v.add(key(k), "only applies to protocol http")
			}
		}
		return
	}
	if !t.DeepCheck {
		// The connect phase (TCP, TLS) sends no request: the keys would
		// look checked while nothing reads them.
		for _, k := range httpOnlyKeys[1:] {
			if v.written[key(k)] {
				v.add(key(k), "only applies with deep_check (a connect-only check sends no HTTP request)")
			}
		}
	}
	if len(t.ExpectedStatus) == 0 {
		if v.written[key("expected_status")] {
			v.add(key("expected_status"), "must list at least one status (leave it out for 200)")
		}
		t.ExpectedStatus = append([]int(nil), DefaultTargetStatuses...)
	}
	for i, s := range t.ExpectedStatus {
		if s < 100 || s > 599 {
			v.add(fmt.Sprintf("%s[%d]", key("expected_status"), i), "must be an HTTP status 100..599, got %d", s)
		}
	}
	switch {
	case t.ExpectedText == "" && v.written[key("expected_text")]:
		// Most likely an empty ${VAR}: a check of "" would pass on any body.
		v.add(key("expected_text"), "must not be empty (leave it out to not check the body)")
	case len(t.ExpectedText) > MaxExpectedText:
		v.add(key("expected_text"), "must be at most %d bytes (the check reads that much of the body), got %d", MaxExpectedText, len(t.ExpectedText))
	}
	v.validateCheckHeaders(key, t)
	v.validateTargetCheckRequest(key, t)
}

// validateCheckHeaders refuses header names that are not tokens, two names
// that differ only in case, headers the check owns, and values that would
// end the header line. No message quotes a value: it may be a credential.
func (v *validator) validateCheckHeaders(key func(string) string, t *Target) {
	names := make([]string, 0, len(t.Headers))
	for name := range t.Headers {
		names = append(names, name)
	}
	sort.Strings(names)
	seen := map[string]string{}
	for _, name := range names {
		path := key("headers." + name)
		if !validToken(name) {
			v.add(path, "%q is not a valid HTTP header name", name)
			continue
		}
		canonical := textproto.CanonicalMIMEHeaderKey(name)
		if first, dup := seen[canonical]; dup {
			v.add(path, "is the header %s again (header names are case-insensitive)", first)
			continue
		}
		seen[canonical] = name
		switch canonical {
		case "Connection", "Content-Length", "Transfer-Encoding":
			// The check sends one bodiless request per connection.
			v.add(path, "is set by the check itself and cannot be configured")
			continue
		case "Authorization":
			if t.TestUsername != "" {
				v.add(path, "conflicts with test_username (HTTP Basic sends its own Authorization header)")
				continue
			}
		}
		value := t.Headers[name]
		if strings.ContainsAny(value, "\r\n\x00") || strings.IndexFunc(value, isControlNotTab) >= 0 {
			v.add(path, "value must not contain control characters (a line break would start another header)")
		} else if canonical == "Host" {
			if msg := checkHostHeader(value); msg != "" {
				v.add(path, "%s", msg)
			}
		}
	}
}

// checkHostHeader accepts what a Host header holds (RFC 9110 §7.2): a host
// name or IPv4 address, or a bracketed IPv6 address, each with an optional
// port. The Host value names a virtual host, not a secret, so it is quoted.
func checkHostHeader(value string) string {
	host, port, hasPort := value, "", false
	if inner, ok := strings.CutPrefix(value, "["); ok {
		end := strings.IndexByte(inner, ']')
		if end < 0 {
			return fmt.Sprintf("is not a bracketed IPv6 address: %q", value)
		}
		if a, err := netip.ParseAddr(inner[:end]); err != nil || !a.Is6() || a.Zone() != "" {
			return fmt.Sprintf("is not a bracketed IPv6 address: %q", value)
		}
		rest := inner[end+1:]
		if rest == "" {
			return ""
		}
		if port, hasPort = strings.CutPrefix(rest, ":"); !hasPort {
			return fmt.Sprintf("must be host or host:port, got %q", value)
		}
		host = ""
	} else if i := strings.LastIndexByte(value, ':'); i >= 0 {
		host, port, hasPort = value[:i], value[i+1:], true
		if strings.Contains(host, ":") {
			return fmt.Sprintf("must put an IPv6 address in brackets ([2001:db8::1]), got %q", value)
		}
	}
	if hasPort {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || port[0] == '+' {
			return fmt.Sprintf("must be host or host:port with a port 1..65535, got %q", value)
		}
	}
	if host == "" {
		return ""
	}
	if msg := CheckHost(host); msg != "" {
		return "host " + msg
	}
	return ""
}

func isControlNotTab(r rune) bool { return r != '\t' && (r < ' ' || r == 0x7f) }

// validateHeloName checks helo_name on a target and fills in the
// effective one (the target's, else the service's) for smtp and lmtp.
func (v *validator) validateHeloName(key func(string) string, t *Target, h *HealthChecks) {
	if t.Protocol != ProtoSMTP && t.Protocol != ProtoLMTP {
		if v.written[key("helo_name")] {
			v.add(key("helo_name"), "only applies to protocol smtp and lmtp")
		}
		return
	}
	if !v.written[key("helo_name")] {
		t.HeloName = h.HeloName // checked once by validateHealthChecks
		return
	}
	if msg := CheckHeloName(t.HeloName); msg != "" {
		v.add(key("helo_name"), "%s", msg)
	}
}

// CheckHeloName returns "" when name may follow EHLO or LHLO (RFC 5321
// §4.1.1.1): a domain (an RFC 1123 hostname, no trailing dot) or an address
// literal ([192.0.2.1], [IPv6:2001:db8::1]); else what is wrong. Spaces and
// control characters are never allowed: the name goes on a command line.
func CheckHeloName(name string) string {
	if name == "" {
		return "must not be empty (leave it out for " + DefaultHeloName + ")"
	}
	if strings.IndexFunc(name, func(r rune) bool { return r <= ' ' || r >= 0x7f }) >= 0 {
		return fmt.Sprintf("must be a domain or an address literal without spaces or control characters, got %q", name)
	}
	if strings.HasPrefix(name, "[") {
		inner, ok := strings.CutSuffix(name[1:], "]")
		if !ok {
			return fmt.Sprintf("address literal must end with ']', got %q", name)
		}
		if v6, isV6 := strings.CutPrefix(inner, "IPv6:"); isV6 {
			if a, err := netip.ParseAddr(v6); err == nil && a.Is6() && !a.Is4In6() && a.Zone() == "" {
				return ""
			}
			return fmt.Sprintf("is not an IPv6 address literal ([IPv6:2001:db8::1]): %q", name)
		}
		if a, err := netip.ParseAddr(inner); err == nil && a.Is4() {
			return ""
		}
		return fmt.Sprintf("is not an address literal ([192.0.2.1] or [IPv6:2001:db8::1]): %q", name)
	}
	if a, err := netip.ParseAddr(name); err == nil {
		// RFC 5321 takes an address only in brackets; say how to write it.
		if a.Is4() {
			return fmt.Sprintf("an IPv4 address must be written as an address literal: [%s]", name)
		}
		return fmt.Sprintf("an IPv6 address must be written as an address literal: [IPv6:%s]", name)
	}
	if strings.HasSuffix(name, ".") {
		return fmt.Sprintf("must not end with '.' (a domain in EHLO has no trailing dot): %q", name)
	}
	return checkHostname(name)
}
