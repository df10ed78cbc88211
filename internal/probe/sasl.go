package probe

import (
	"encoding/base64"
	"sort"
	"strconv"
	"strings"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/redact"
)

// mechanism is one executable way to log in, in the seed's auto order.
type mechanism struct {
	Name string // PLAIN, LOGIN, USERPASS, BASIC
	IR   bool   // initial response on the command line
}

func (m mechanism) String() string {
	if m.IR {
		return m.Name + "-IR"
	}
	return m.Name
}

// advertised is what a server offered, as one protocol file parsed it.
type advertised struct {
	Source string          // e.g. "IMAP CAPABILITY", "EHLO", "CAPA", "sieve capabilities", "static"
	Mechs  map[string]bool // upper-case names; unsupported ones are ignored when choosing
	// IR tells whether an initial response may be used for SASL mechanisms
	// (IMAP/Sieve: SASL-IR seen; SMTP/LMTP: always; POP3: never).
	IR bool
}

func (a advertised) names() []string {
	out := make([]string, 0, len(a.Mechs))
	for m := range a.Mechs {
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}

// autoOrder is seed 004's order for auth_mechanism: auto.
var autoOrder = []mechanism{
	{"PLAIN", true}, {"PLAIN", false}, {"LOGIN", true}, {"LOGIN", false},
	{"USERPASS", false}, {"BASIC", false},
}

// choose picks the mechanism for this target from what the server
// advertised. An explicit mechanism that is not advertised is a
// configuration error naming both sides, so an operator sees the mismatch.
func (s *session) choose(adv advertised) (mechanism, error) {
	usable := func(m mechanism) bool {
		if !adv.Mechs[m.Name] {
			return false
		}
		if m.IR {
			return adv.IR && (m.Name == "PLAIN" || m.Name == "LOGIN")
		}
		return true
	}
	configured := s.target.Mechanism
	if configured == "" || strings.EqualFold(configured, "auto") {
		for _, m := range autoOrder {
			if usable(m) {
				return m, nil
			}
		}
		return mechanism{}, s.unavailable("auto", adv)
	}
	name := strings.ToUpper(configured)
	if ir := (mechanism{name, true}); usable(ir) {
		return ir, nil
	}
	if m := (mechanism{name, false}); usable(m) {
		return m, nil
	}
	return mechanism{}, s.unavailable(name, adv)
}

func (s *session) unavailable(configured string, adv advertised) error {
	t := s.target
	return &MechanismUnavailableError{
		Protocol: t.Protocol, Host: t.Host, Port: t.Port,
		Configured: configured, Advertised: adv.names(), Source: adv.Source, SASLIR: adv.IR,
	}
}

// MechanismUnavailableError is returned when no configured or executable
// mechanism is advertised. The fields go into the ERROR log seed 004 asks for.
type MechanismUnavailableError struct {
	Protocol, Host string
	Port           int
	Configured     string
	Advertised     []string
	Source         string
	SASLIR         bool
}

func (e *MechanismUnavailableError) Error() string {
	return "backend health-check auth mechanism unavailable: protocol=" + e.Protocol +
		" host=" + e.Host + " port=" + strconv.Itoa(e.Port) + " configured=" + e.Configured +
		" advertised=" + strings.Join(e.Advertised, ",")
}

// credentials returns the test account if both parts are configured. ok is
// false when the check must stop after greeting and capabilities. It refuses
// to hand out credentials for a connection that is not TLS, unless the
// operator opted in for a loopback lab host.
//
// Every login of every protocol gets its user name and password here, so
// this is where a CR, LF or NUL in them is refused, before any login command
// is written. backend_login passes a client's own credentials, so the
// refusal is an authentication failure (such a password can never be
// right), which also keeps a client from turning it into a tempfail.
func (s *session) credentials() (user, pass string, ok bool, err error) {
	t := s.target
	if t.Username == "" || t.Password == "" {
		return "", "", false, nil
	}
	if hasLineBreak(t.Username) {
		return "", "", false, unsafeValue(ReasonAuth, "user name not sent to %s", t.Address())
	}
	if hasLineBreak(t.Password) {
		return "", "", false, unsafeValue(ReasonAuth, "password not sent to %s", t.Address())
	}
	if !s.isTLS() && !(t.AllowPlaintextAuth && config.IsLoopbackHost(t.Host)) {
		return "", "", false, configErr("refusing to send credentials to %s without TLS (set tls_mode: implicit or starttls)", t.Address())
	}
	return t.Username, t.Password, true, nil
}

// plainResponse is the SASL PLAIN message, base64: "\0user\0pass".
func plainResponse(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass))
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// redacted stands in for credentials in transcripts.
const redacted = redact.Placeholder
