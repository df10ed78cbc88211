package probe

import (
	"strconv"
	"strings"
	"time"
)

// SMTP and LMTP differ only in the greeting verb and the names in messages,
// so one implementation serves both.
type smtpDialect struct {
	proto string // SMTP or LMTP, for messages
	hello string // EHLO or LHLO; also the capability source name
}

var (
	dialectSMTP = smtpDialect{proto: "SMTP", hello: "EHLO"}
	dialectLMTP = smtpDialect{proto: "LMTP", hello: "LHLO"}
)

// helloName is the client name seed 004 sends when the target names none
// (helo_name); most servers only log it, some check it against a policy.
const helloName = "localhost.localdomain"

// maxReplyLines bounds one multi-line reply; real EHLO answers have ~10.
const maxReplyLines = 1000

func checkSMTP(s *session) error { return checkSMTPFamily(s, dialectSMTP) }

// checkLMTP authenticates like SMTP when credentials are configured; without
// them (the normal case: Dovecot LMTP never offers AUTH) it proves the
// server greets and answers LHLO.
func checkLMTP(s *session) error { return checkSMTPFamily(s, dialectLMTP) }

// checkSMTPFamily ends with QUIT whether the conversation passed or not
// (RFC 5321 §3.1: even after a 554 greeting the server waits for it),
// unless the server can no longer read it (goodbye.go).
func checkSMTPFamily(s *session, d smtpDialect) error {
	err := s.smtpConversation(d)
	s.logout("QUIT")
	return err
}

func (s *session) smtpConversation(d smtpDialect) error {
	if err := s.smtpGreeting(d); err != nil {
		return err
	}
	caps, err := s.smtpHello(d)
	if err != nil {
		return err
	}
	if s.target.TLSMode == TLSStartTLS {
		if caps, err = s.smtpStartTLS(d, caps); err != nil {
			return err
		}
	}

	user, pass, ok, err := s.credentials()
	if err != nil || !ok {
		// A refusal writes no AUTH verb: the server sees only QUIT.
		return err
	}
	mech, err := s.choose(advertised{Source: d.hello, Mechs: caps.mechs, IR: true})
	if err != nil {
		return err
	}
	return s.smtpAuth(d, mech, user, pass)
}

// smtpGreeting reads the greeting, which must be 220 (haproxy#980: nothing
// is sent before it).
func (s *session) smtpGreeting(d smtpDialect) error {
	start := time.Now()
	greeting, err := s.readSMTP()
	if err != nil {
		return ioFailed(err, "%s greeting", d.proto)
	}
	if greeting.code != 220 {
		// 554 is the RFC 5321 "no service here" greeting: a clear refusal.
		s.greetingRefused = greeting.code == 554
		return protocolErr("%s greeting failed, response: %s", d.proto, s.quoted(greeting.failureLine()))
	}
	s.step("greeting", start)
	return nil
}

// smtpHello sends EHLO/LHLO and returns the advertised extensions.
func (s *session) smtpHello(d smtpDialect) (smtpCaps, error) {
	start := time.Now()
	name := s.target.HeloName
	if name == "" {
		name = helloName
	}
	if strings.ContainsAny(name, " \t") {
		// A second word would be a parameter the server reads; writeLine
		// already refuses CR, LF and NUL. Targets from config never get here.
		return smtpCaps{}, unsafeValue(ReasonConfig, "%s %s name not sent to %s", d.proto, d.hello, s.target.Address())
	}
	if err := s.writeLine(d.hello + " " + name); err != nil {
		return smtpCaps{}, ioFailed(err, "%s %s", d.proto, d.hello)
	}
	reply, err := s.readSMTP()
	if err != nil {
		return smtpCaps{}, ioFailed(err, "%s %s", d.proto, d.hello)
	}
	if reply.code != 250 || reply.hasErrorLine() {
		return smtpCaps{}, protocolErr("%s %s failed, response: %s", d.proto, d.hello, s.quoted(reply.failureLine()))
	}
	s.step("capabilities", start)
	return parseSMTPCaps(reply.texts), nil
}

// smtpStartTLS upgrades the connection and asks for the extensions again:
// what a server said before TLS is discarded, as RFC 3207 requires.
func (s *session) smtpStartTLS(d smtpDialect, caps smtpCaps) (smtpCaps, error) {
	if !caps.startTLS {
		return smtpCaps{}, protocolErr("%s STARTTLS capability not advertised by %s", d.proto, s.target.Address())
	}
	if err := s.writeLine("STARTTLS"); err != nil {
		return smtpCaps{}, ioFailed(err, "%s STARTTLS", d.proto)
	}
	reply, err := s.readSMTP()
	if err != nil {
		return smtpCaps{}, ioFailed(err, "%s STARTTLS", d.proto)
	}
	if reply.code != 220 {
		return smtpCaps{}, protocolErr("%s STARTTLS command failed, response: %s", d.proto, s.quoted(reply.failureLine()))
	}
	if err := s.startTLS(); err != nil {
		return smtpCaps{}, err
	}
	return s.smtpHello(d)
}

// readSMTP reads one reply from the server. 421 is the server's farewell
// (RFC 5321 §3.8): it closes the connection and reads no QUIT.
func (s *session) readSMTP() (smtpReply, error) {
	reply, err := readSMTPReply(s.readLine, s.quoted)
	if err == nil && reply.code == 421 {
		s.serverClosing()
	}
	return reply, err
}

// smtpReply is one complete server reply.
type smtpReply struct {
	code  int      // of the final line
	lines []string // whole lines as received
	texts []string // the text after "NNN-" / "NNN "
}

// hasErrorLine reports an earlier line with a 4xx/5xx code inside a reply
// whose final line looks fine; seed 004 treats that as a failure.
func (r smtpReply) hasErrorLine() bool {
	for _, l := range r.lines {
		if l[0] >= '4' {
			return true
		}
	}
	return false
}

// failureLine is the line worth showing an operator: the first error line,
// else the last line.
func (r smtpReply) failureLine() string {
	for _, l := range r.lines {
		if l[0] >= '4' {
			return l
		}
	}
	return r.lines[len(r.lines)-1]
}

// readSMTPReply reads lines until one has a space (or nothing) after the
// three-digit code. next is the line source and quote prepares a line for an
// error message, so the parser can be fuzzed without a connection.
func readSMTPReply(next func() (string, error), quote func(string) string) (smtpReply, error) {
	var r smtpReply
	size := 0
	for {
		line, err := next()
		if err != nil {
			return smtpReply{}, err
		}
		if size += len(line) + 2; size > maxResponseBytes {
			return smtpReply{}, errResponseTooLong
		}
		code, last, text, ok := splitSMTPLine(line)
		if !ok {
			return smtpReply{}, protocolErr("malformed reply line: %s", quote(line))
		}
		r.lines = append(r.lines, line)
		r.texts = append(r.texts, text)
		if last {
			r.code = code
			return r, nil
		}
		if len(r.lines) >= maxReplyLines {
			return smtpReply{}, protocolErr("reply longer than %d lines", maxReplyLines)
		}
	}
}

// splitSMTPLine parses "250-text", "250 text" and a bare "250".
func splitSMTPLine(line string) (code int, last bool, text string, ok bool) {
	if len(line) < 3 {
		return 0, false, "", false
	}
	for i := 0; i < 3; i++ {
		if line[i] < '0' || line[i] > '9' {
			return 0, false, "", false
		}
	}
	if line[0] < '2' || line[0] > '5' {
		return 0, false, "", false
	}
	code, _ = strconv.Atoi(line[:3])
	switch {
	case len(line) == 3:
		return code, true, "", true
	case line[3] == ' ':
		return code, true, line[4:], true
	case line[3] == '-':
		return code, false, line[4:], true
	}
	return 0, false, "", false
}

// smtpCaps is what EHLO/LHLO advertised that the probe cares about.
type smtpCaps struct {
	mechs    map[string]bool
	startTLS bool
}

// parseSMTPCaps reads the extension lines of an EHLO/LHLO reply. The first
// line is the server's domain, never an extension. Both "AUTH m1 m2" and the
// pre-RFC "AUTH=m1 m2" spelling count; "AUTH " with an empty list (Dovecot
// before TLS from an untrusted network) yields no mechanisms.
func parseSMTPCaps(texts []string) smtpCaps {
	caps := smtpCaps{mechs: map[string]bool{}}
	if len(texts) < 2 {
		return caps
	}
	for _, text := range texts[1:] {
		fields := strings.Fields(text)
		if len(fields) == 0 {
			continue
		}
		keyword := strings.ToUpper(fields[0])
		switch {
		case keyword == "STARTTLS":
			caps.startTLS = true
		case keyword == "AUTH":
			addMechs(caps.mechs, fields[1:])
		case strings.HasPrefix(keyword, "AUTH="):
			addMechs(caps.mechs, append([]string{fields[0][len("AUTH="):]}, fields[1:]...))
		}
	}
	return caps
}

// addMechs records SASL mechanism names. Unsupported ones (CRAM-MD5, ...)
// stay in the list so an "unavailable" error shows the operator everything
// the server offered; the selector ignores them. USERPASS and BASIC are not
// SASL mechanisms, so a server printing those words must not enable them.
// Nor is a word that is no SASL name (control characters, non-ASCII, more
// than 20 characters): it could never be chosen, and kept it would reach
// the "mechanism unavailable" ERROR log raw.
func addMechs(into map[string]bool, names []string) {
	for _, n := range names {
		// Checked before upper-casing, and upper-cased in ASCII only:
		// Unicode case mapping makes "PLAıN" (U+0131) PLAIN.
		if !isSASLName(n) {
			continue
		}
		if n = asciiUpper(n); n != "USERPASS" && n != "BASIC" {
			into[n] = true
		}
	}
}

// isSASLName tells whether a word is a SASL mechanism name (RFC 4422 §3.1:
// 1 to 20 of A-Z, 0-9, "-" and "_"), in any ASCII case.
func isSASLName(n string) bool {
	if n == "" || len(n) > 20 {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// asciiUpper upper-cases ASCII letters only; a capability word compared
// with an ASCII keyword must not match through Unicode case mapping
// ("ſtarttls", U+017F, is not STARTTLS).
func asciiUpper(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'a' && c <= 'z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'a' && b[j] <= 'z' {
					b[j] -= 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// smtpAuth runs the chosen mechanism. An initial response refused as a
// syntax problem (500/501) is retried once in the classic form, as seed 004
// allows; every other refusal is final, so a wrong password never makes the
// probe try a second mechanism.
func (s *session) smtpAuth(d smtpDialect, m mechanism, user, pass string) error {
	start := time.Now()
	s.res.Mechanism = m.String()
	err := s.smtpSASL(d, m, user, pass)
	if rejected, ok := err.(*initialResponseRejected); ok {
		// session has no logger; the fallback is visible in the transcript,
		// the steps and the mechanism the result reports.
		s.note("-- ", "initial response rejected ("+rejected.line+"); falling back to classic exchange")
		s.step("auth_initial_response_rejected", start)
		start = time.Now()
		m.IR = false
		s.res.Mechanism = m.String()
		err = s.smtpSASL(d, m, user, pass)
	}
	s.step("auth", start) // refusals are timed too
	return err
}

// initialResponseRejected is the one answer that allows the classic retry.
type initialResponseRejected struct{ line string }

func (e *initialResponseRejected) Error() string {
	return "initial response rejected: " + e.line
}

// smtpSASL is one AUTH exchange: the command, then one payload per 334
// challenge. Challenge text is never compared (aiosmtpd words it
// differently from Dovecot).
func (s *session) smtpSASL(d smtpDialect, m mechanism, user, pass string) error {
	var payloads []string
	var command, shown string
	switch {
	case m.Name == "PLAIN" && m.IR:
		command, shown = "AUTH PLAIN "+plainResponse(user, pass), "AUTH PLAIN "+redacted
	case m.Name == "PLAIN":
		command, shown = "AUTH PLAIN", "AUTH PLAIN"
		payloads = []string{plainResponse(user, pass)}
	case m.Name == "LOGIN" && m.IR:
		command, shown = "AUTH LOGIN "+b64(user), "AUTH LOGIN "+redacted
		payloads = []string{b64(pass)}
	case m.Name == "LOGIN":
		command, shown = "AUTH LOGIN", "AUTH LOGIN"
		payloads = []string{b64(user), b64(pass)}
	default:
		return configErr("%s cannot authenticate with %s", d.proto, m.Name)
	}
	if err := s.writeSecret(command, shown); err != nil {
		return ioFailed(err, "%s AUTH %s", d.proto, m.Name)
	}
	for first := true; ; first = false {
		reply, err := s.readSMTP()
		if err != nil {
			return ioFailed(err, "%s AUTH %s", d.proto, m.Name)
		}
		line := s.quoted(reply.failureLine())
		switch {
		case reply.code == 235:
			return nil
		case reply.code == 334 && len(payloads) > 0:
			if err := s.writeSecret(payloads[0], redacted); err != nil {
				return ioFailed(err, "%s AUTH %s", d.proto, m.Name)
			}
			payloads = payloads[1:]
		case first && m.IR && (reply.code == 500 || reply.code == 501):
			return &initialResponseRejected{line: line}
		default:
			if reply.code == 334 {
				s.saslAbandoned()
			}
			return failf(smtpAuthReason(reply.code), "%s AUTH %s failed: %s", d.proto, m.Name, line)
		}
	}
}

// smtpAuthReason classifies a refused AUTH. 535 is a wrong password and 454
// a broken authentication backend: both mean users cannot log in (auth).
// 504, 523, 534 and 538 say the mechanism or the transport is not acceptable
// to the server, which an operator fixes in configuration (config). Anything
// else, including a 334 with nothing left to send, is a protocol failure.
func smtpAuthReason(code int) Reason {
	switch code {
	case 535, 454:
		return ReasonAuth
	case 504, 523, 534, 538:
		return ReasonConfig
	}
	return ReasonProtocol
}

// ioFailed names the protocol step a read or write failed in; the reason
// stays the one of the cause (a timeout stays a timeout). Shared with pop3.go.
func ioFailed(err error, format string, args ...any) error {
	return wrapf(Classify(err), err, format, args...)
}
