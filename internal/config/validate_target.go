package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/backline/backline/internal/redact"
	"github.com/backline/backline/internal/textutil"
)

var protocols = []string{ProtoIMAP, ProtoPOP3, ProtoLMTP, ProtoSMTP, ProtoSieve, ProtoHTTP, ProtoTCP}

func (v *validator) validateTargets() {
	h := &v.c.Auth.Services.BackendHealthChecks
	firstByName := map[string]int{}
	for i := range h.Targets {
		path := fmt.Sprintf("%s.targets[%d]", healthChecksPath, i)
		t := &h.Targets[i]
		v.validateTarget(path, t, h)

		namePath := path + ".name"
		if first, dup := firstByName[t.Name]; dup {
			v.add(namePath, "name %q is already used by targets[%d]; give each target a distinct name", t.Name, first)
		} else {
			firstByName[t.Name] = i
		}
	}
}

// validateTarget normalises one target in place: protocol, mechanism and TLS
// mode spelled canonically, effective TLS mode and timeouts filled in, the
// password file read.
func (v *validator) validateTarget(path string, t *Target, h *HealthChecks) {
	key := func(k string) string { return path + "." + k }

	t.Protocol = normalizeWord(t.Protocol)
	switch {
	case t.Protocol == "":
		v.add(key("protocol"), "is required (one of %s)", strings.Join(protocols, ", "))
	case !oneOf(t.Protocol, protocols):
		v.add(key("protocol"), "unknown protocol %q (use one of %s)", t.Protocol, strings.Join(protocols, ", "))
	}

	t.Host = strings.TrimSpace(t.Host)
	if strings.HasPrefix(t.Host, "[") && strings.HasSuffix(t.Host, "]") {
		t.Host = t.Host[1 : len(t.Host)-1]
	}
	if t.Host == "" {
		v.add(key("host"), "is required")
	} else if msg := CheckHost(t.Host); msg != "" {
		v.add(key("host"), "%s", msg)
	}

	// Nauthilus lets port be 0 (omitempty); a probe of port 0 can only fail,
	// so here it is required.
	if t.Port < 1 || t.Port > 65535 {
		if t.Port == 0 && !v.written[key("port")] {
			v.add(key("port"), "is required (1..65535)")
		} else {
			v.add(key("port"), "must be 1..65535, got %d", t.Port)
		}
	}

	if t.Name == "" && !v.written[key("name")] {
		t.Name = t.Protocol + "://" + net.JoinHostPort(t.Host, strconv.Itoa(t.Port))
	} else if strings.TrimSpace(t.Name) == "" {
		v.add(key("name"), "must not be blank (leave it out for protocol://host:port)")
	} else if msg := checkName(t.Name); msg != "" {
		v.add(key("name"), "%s", msg)
	}

	v.validateRequestURI(key, t)
	v.validateCredentials(key, t)
	v.validateHTTPCheck(key, t)
	v.validateTCPCheck(key, t)
	v.validateHeloName(key, t, h)
	v.validateConnectCheck(key, t, h)
	v.validateTLS(key, t)
	v.validateClientCert(path, t)
	v.validateProxyPort(key, t)
	v.validateWeight(key, t)
	v.validateHAProxy(key, t)

	for _, l := range []struct {
		key    string
		value  *time.Duration
		global time.Duration
		max    time.Duration
	}{
		{"connect_timeout", &t.ConnectTimeout, h.ConnectTimeout, time.Minute},
		{"tls_timeout", &t.TLSTimeout, h.TLSTimeout, time.Minute},
		{"deep_timeout", &t.DeepTimeout, h.DeepTimeout, 5 * time.Minute},
	} {
		if *l.value == 0 && !v.written[key(l.key)] {
			*l.value = l.global // the global value was checked already
			continue
		}
		v.checkDuration(key(l.key), *l.value, l.max)
	}

	v.checkProbeBudget(key, t, h)
	v.validatePlaintextAuth(key, t)
	v.validateAgent(key, t)
}

func (v *validator) validateRequestURI(key func(string) string, t *Target) {
	if t.Protocol != ProtoHTTP {
		if t.RequestURI != "" {
			v.add(key("request_uri"), "only applies to protocol http")
		}
		return
	}
	if t.RequestURI == "" {
		t.RequestURI = "/"
		return
	}
	if msg := checkRequestURI(t.RequestURI); msg != "" {
		v.add(key("request_uri"), "%s", msg)
	}
}

// checkRequestURI accepts an origin-form path and query whose every
// character is allowed by RFC 3986 or percent-encoded. The value quoted
// in the error has its query credentials withheld (?api_key=<redacted>),
// all of each value, also past the raw space or quote the error is about.
func checkRequestURI(s string) string {
	shown := redact.RequestURI(s)
	if !strings.HasPrefix(s, "/") {
		return fmt.Sprintf("must start with \"/\", got %q", shown)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%':
			if i+2 >= len(s) || !textutil.IsHexDigit(s[i+1]) || !textutil.IsHexDigit(s[i+2]) {
				return fmt.Sprintf("has an invalid percent-escape at offset %d: %q", i, shown)
			}
			i += 2
		case c == '#':
			return fmt.Sprintf("must not contain a fragment (#): %q", shown)
		case !isURIChar(c):
			return fmt.Sprintf("character %q at offset %d must be percent-encoded: %q", c, i, shown)
		}
	}
	return ""
}

// isURIChar: unreserved, sub-delims and the path/query delimiters of RFC 3986.
func isURIChar(c byte) bool {
	if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
		return true
	}
	return strings.IndexByte("-._~!$&'()*+,;=:@/?", c) >= 0
}

// validateCredentials reads test_password_file and checks the test
// credentials. No message quotes a credential.
func (v *validator) validateCredentials(key func(string) string, t *Target) {
	v.loadSecret(&t.TestPassword, t.TestPasswordFile, key("test_password"), key("test_password_file"))
	// Both go on protocol lines: a control character there is an injection.
	if hasSpace(t.TestUsername) {
		v.add(key("test_username"), "must not contain whitespace")
	} else if hasControl(t.TestUsername) {
		v.add(key("test_username"), "must not contain control characters")
	}
	passwordPath := key("test_password")
	if t.TestPasswordFile != "" {
		passwordPath = key("test_password_file")
	}
	if hasSpace(t.TestPassword) {
		v.add(passwordPath, "must not contain whitespace")
	} else if hasControl(t.TestPassword) {
		v.add(passwordPath, "must not contain control characters")
	}
	switch {
	// A written but undecodable test_password (an unset ${VAR}) is already
	// reported by the decoder.
	case t.TestUsername != "" && t.TestPassword == "" && t.TestPasswordFile == "" && !v.written[key("test_password")]:
		v.add(key("test_username"), "needs test_password or test_password_file as well")
	case t.TestUsername == "" && t.TestPassword != "":
		v.add(key("test_username"), "is required when a test password is set")
	}

	t.AuthMechanism = NormalizeMechanism(t.AuthMechanism)
	if oneOf(t.Protocol, protocols) {
		if msg := checkMechanism(t.AuthMechanism, t.Protocol); msg != "" {
			v.add(key("auth_mechanism"), "%s", msg)
		}
	}
}

func hasSpace(s string) bool { return strings.IndexFunc(s, unicode.IsSpace) >= 0 }

// validateTLS resolves the effective TLS mode (contract §4.1: an explicit
// tls_mode wins, tls: true means implicit, sieve defaults to starttls, else
// plain) and stores it in TLSMode.
func (v *validator) validateTLS(key func(string) string, t *Target) {
	modePath := key("tls_mode")
	explicit := normalizeWord(t.TLSMode)
	switch explicit {
	case "", TLSPlain, TLSImplicit, TLSStartTLS:
	default:
		v.add(modePath, "must be plain, implicit or starttls, got %q", explicit)
		return
	}
	if t.TLS && explicit != "" && explicit != TLSImplicit {
		v.add(modePath, "tls: true means implicit TLS and contradicts tls_mode %s; remove tls or set tls_mode: implicit", explicit)
	}
	t.TLSMode = explicit
	if t.TLSMode == "" {
		switch {
		case t.TLS:
			t.TLSMode = TLSImplicit
		case t.Protocol == ProtoSieve:
			t.TLSMode = TLSStartTLS
		default:
			t.TLSMode = TLSPlain
		}
	}
	if t.TLSMode == TLSStartTLS {
		switch {
		case t.Protocol == ProtoHTTP || t.Protocol == ProtoTCP:
			v.add(modePath, "protocol %s has no STARTTLS; use implicit or plain", t.Protocol)
		case !t.DeepCheck && explicit == "":
			v.add(modePath, "sieve defaults to starttls, which runs only in the deep phase: set deep_check: true, or tls_mode: plain for a connect-only check")
		case !t.DeepCheck:
			v.add(modePath, "starttls runs only in the deep phase and needs deep_check: true")
		}
	}

	if t.TLSCAFile != "" {
		if !v.caFile(key("tls_ca_file"), t.TLSCAFile) {
			// --no-secrets: the key stays as written, the probe
			// check builds goes with the system roots.
			t.absentTLS().CA = true
		}
	}
	if t.TLSServerName != "" {
		if msg := CheckHost(t.TLSServerName); msg != "" {
			v.add(key("tls_server_name"), "%s", msg)
		}
	}
}

func (v *validator) validateHAProxy(key func(string) string, t *Target) {
	cmdPath := key("haproxy_v2_command")
	t.HAProxyV2Command = normalizeWord(t.HAProxyV2Command)
	switch t.HAProxyV2Command {
	case "":
		if t.HAProxyV2 {
			t.HAProxyV2Command = DefaultHAProxyV2Command
		}
		return
	case HAProxyCommandLocal, HAProxyCommandProxy:
	default:
		v.add(cmdPath, "must be local or proxy, got %q", t.HAProxyV2Command)
		return
	}
	if !t.HAProxyV2 {
		v.add(cmdPath, "only applies with haproxy_v2: true")
	}
}

// validatePlaintextAuth is the load-time form of the probe rule that
// credentials are sent only over TLS.
func (v *validator) validateProxyPort(key func(string) string, t *Target) {
	if t.ProxyPort == 0 && !v.written[key("proxy_port")] {
		return
	}
	switch {
	case t.ProxyPort < 1 || t.ProxyPort > 65535:
		v.add(key("proxy_port"), "must be 1..65535, got %d", t.ProxyPort)
	case t.Protocol == ProtoHTTP || t.Protocol == ProtoTCP:
		v.add(key("proxy_port"), "only applies to mail protocols (the port nginx or a Dovecot proxy connects to)")
	case t.TLSMode == TLSImplicit && t.ProxyPort == t.Port:
		v.add(key("proxy_port"), "is the implicit-TLS port itself; nginx cannot speak TLS to its upstream: name the plain or STARTTLS port")
	}
}

func (v *validator) validatePlaintextAuth(key func(string) string, t *Target) {
	if t.AllowPlaintextAuth && t.Host != "" && !IsLoopbackHost(t.Host) {
		v.add(key("allow_plaintext_auth"), "is allowed only for loopback hosts (127.0.0.0/8, ::1, localhost); credentials must not cross a network in clear text")
		return
	}
	if t.Protocol == ProtoTCP {
		if t.DeepCheck && hasSecretTCPStep(t.TCPSteps) && t.TLSMode == TLSPlain && !t.AllowPlaintextAuth {
			v.add(key("tls_mode"), "a send step marked secret is only sent over TLS: use tls_mode: implicit (allow_plaintext_auth: true is accepted for loopback hosts only)")
		}
		return
	}
	hasCredentials := t.TestUsername != "" && t.TestPassword != ""
	if t.DeepCheck && hasCredentials && t.TLSMode == TLSPlain && !t.AllowPlaintextAuth {
		v.add(key("tls_mode"), "credentials are only sent over TLS: a deep check with test credentials needs tls_mode implicit or starttls (allow_plaintext_auth: true is accepted for loopback hosts only)")
	}
}
