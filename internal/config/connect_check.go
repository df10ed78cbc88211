package config

// What a connect-only check of a mail target does after TCP, the PROXY
// header and implicit TLS (connect_check).
const (
	// ConnectCheckGreeting reads the greeting, which must be positive, and
	// says goodbye (IMAP and ManageSieve LOGOUT, POP3, SMTP and LMTP QUIT)
	// before closing: the server logs a client that logged out, not one
	// that vanished (haproxy#1812). The default.
	ConnectCheckGreeting = "greeting"
	// ConnectCheckTCP closes right after connecting without reading
	// anything (HAProxy's plain check): for servers that delay their
	// greeting on purpose (SMTP tarpits) or count every greeting.
	ConnectCheckTCP = "tcp"
)

// validateConnectCheck checks connect_check on the service and on a
// target and fills in the target's effective value: its own, else the
// service's; always tcp for http, which has no greeting.
func (v *validator) validateConnectCheck(key func(string) string, t *Target, h *HealthChecks) {
	written := v.written[key("connect_check")]
	if !written {
		t.ConnectCheck = h.ConnectCheck // checked once by validateHealthChecks
	} else {
		t.ConnectCheck = normalizeWord(t.ConnectCheck)
		if t.ConnectCheck != ConnectCheckGreeting && t.ConnectCheck != ConnectCheckTCP {
			v.add(key("connect_check"), "must be greeting or tcp, got %q", t.ConnectCheck)
			return
		}
	}
	if t.Protocol == ProtoHTTP {
		if written && t.ConnectCheck == ConnectCheckGreeting {
			v.add(key("connect_check"), "http has no greeting: its connect-only check sends nothing and closes (use tcp, or deep_check for a request)")
		}
		t.ConnectCheck = ConnectCheckTCP
	}
	if t.Protocol == ProtoTCP {
		if written && t.ConnectCheck == ConnectCheckGreeting {
			v.add(key("connect_check"), "protocol tcp has no greeting: its connect-only check connects and closes (use tcp; an expect step in tcp_steps reads a banner)")
		}
		t.ConnectCheck = ConnectCheckTCP
	}
}

// validateServiceConnectCheck normalises the service's connect_check and
// fills in its default.
func (v *validator) validateServiceConnectCheck(h *HealthChecks) {
	h.ConnectCheck = normalizeWord(h.ConnectCheck)
	switch h.ConnectCheck {
	case "":
		h.ConnectCheck = ConnectCheckGreeting
	case ConnectCheckGreeting, ConnectCheckTCP:
	default:
		v.add(join(healthChecksPath, "connect_check"), "must be greeting or tcp, got %q", h.ConnectCheck)
		h.ConnectCheck = ConnectCheckGreeting // targets inherit a valid value; the error is reported once
	}
}
