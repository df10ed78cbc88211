package probe

import (
	"errors"
	"io"
	"strconv"
	"strings"
	"time"
)

// maxLiteral bounds the literal bytes of one IMAP or ManageSieve response;
// health checks never need literals, so they are skipped, not stored.
const maxLiteral = 64 << 10

// maxResponseLines bounds the lines read while waiting for one reply, so a
// server streaming untagged data cannot keep a check busy until its deadline.
const maxResponseLines = 1000

// imapResponse is one server response: the first line split into tag,
// status and text, with any literals it announced already skipped.
type imapResponse struct {
	Tag    string // "*", "+" or a command tag as the server wrote it
	Status string // upper-cased word after the tag (OK, NO, BAD, BYE, PREAUTH, CAPABILITY, ...); empty for "+"
	Text   string // the rest of the first line
	Line   string // the whole first line, for messages
}

func parseIMAPLine(line string) imapResponse {
	r := imapResponse{Line: line}
	tag, rest, _ := strings.Cut(line, " ")
	r.Tag = tag
	if tag == "+" {
		r.Text = rest
		return r
	}
	status, text, _ := strings.Cut(rest, " ")
	r.Status = strings.ToUpper(status)
	r.Text = text
	return r
}

// literalSize reports a literal announced at the end of a line: "{N}", or
// "{N+}" (LITERAL+, ManageSieve). ok is false when there is none.
func literalSize(line string) (n int, ok bool) {
	if !strings.HasSuffix(line, "}") {
		return 0, false
	}
	open := strings.LastIndexByte(line, '{')
	if open < 0 {
		return 0, false
	}
	digits := strings.TrimSuffix(line[open+1:len(line)-1], "+")
	if digits == "" || len(digits) > 10 {
		return 0, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return 0, false
	}
	return int(v), true
}

// skipLiterals follows a line that announced a literal: it discards the
// literal and reads the line that continues after it, until a line announces
// none. It returns that last line. The total is bounded by maxLiteral.
func (s *session) skipLiterals(line string) (string, error) {
	budget := maxLiteral
	for {
		n, ok := literalSize(line)
		if !ok {
			return line, nil
		}
		if n > budget {
			return "", protocolErr("server announced a literal of %d bytes; the limit is %d", n, maxLiteral)
		}
		budget -= n
		if _, err := s.r.Discard(n); err != nil {
			if errors.Is(err, io.EOF) {
				return "", protocolErr("connection closed by server inside a literal")
			}
			return "", err
		}
		s.note("S: ", "<literal of "+strconv.Itoa(n)+" bytes>")
		var err error
		if line, err = s.readLine(); err != nil {
			return "", err
		}
	}
}

// readIMAP reads one response.
func (s *session) readIMAP() (imapResponse, error) {
	line, err := s.readLine()
	if err != nil {
		return imapResponse{}, err
	}
	if _, err := s.skipLiterals(line); err != nil {
		return imapResponse{}, err
	}
	r := parseIMAPLine(line)
	if r.Tag == "*" && r.Status == "BYE" {
		s.serverClosing() // RFC 3501 §7.1.5: it closes; no LOGOUT follows
	}
	return r, nil
}

func (s *session) nextTag() string {
	s.tagSeq++
	return "a" + strconv.Itoa(s.tagSeq)
}

// imapTagged reads until the reply tagged tag (tags compare
// case-insensitively). Untagged CAPABILITY data is collected into caps;
// other untagged lines are skipped. A continuation is a protocol error.
func (s *session) imapTagged(tag string, caps *imapCaps) (imapResponse, error) {
	for range maxResponseLines {
		r, err := s.readIMAP()
		if err != nil {
			return r, err
		}
		switch {
		case strings.EqualFold(r.Tag, tag):
			return r, nil
		case r.Tag == "*" && r.Status == "BYE":
			return r, protocolErr("IMAP server closed the session: %s", s.quoted(r.Line))
		case r.Tag == "*":
			if r.Status == "CAPABILITY" && caps != nil {
				if err := caps.add(r.Text); err != nil {
					return r, err
				}
			}
		case r.Tag == "+":
			return r, protocolErr("IMAP server sent an unexpected continuation: %s", s.quoted(r.Line))
		default:
			return r, protocolErr("IMAP server answered with an unknown tag: %s", s.quoted(r.Line))
		}
	}
	return imapResponse{}, protocolErr("IMAP server sent more than %d lines without completing %s", maxResponseLines, tag)
}

// imapCaps is what a CAPABILITY list says about logging in.
type imapCaps struct {
	seen          bool
	mechs         map[string]bool
	saslIR        bool
	startTLS      bool
	loginDisabled bool
	// listBytes is what the CAPABILITY lists added so far weigh.
	listBytes int
}

// add records one CAPABILITY list. It keeps at most maxResponseBytes of
// lists, like an SMTP reply or a POP3 CAPA list: otherwise up to
// maxResponseLines untagged lines of maxLine bytes of AUTH= tokens (64 MiB)
// would be kept by one check. Duplicates weigh too, though they add no
// name. Mechanism names go through addMechs, as SMTP's and POP3's do.
func (c *imapCaps) add(list string) error {
	if c.listBytes += len(list); c.listBytes > maxResponseBytes {
		return errResponseTooLong
	}
	c.seen = true
	if c.mechs == nil {
		c.mechs = map[string]bool{}
	}
	for _, word := range strings.Fields(list) {
		switch upper := asciiUpper(word); {
		case upper == "SASL-IR":
			c.saslIR = true
		case upper == "STARTTLS":
			c.startTLS = true
		case upper == "LOGINDISABLED":
			c.loginDisabled = true
		case strings.HasPrefix(upper, "AUTH="):
			addMechs(c.mechs, []string{word[len("AUTH="):]})
		}
	}
	return nil
}

// responseCode splits "[CODE args] text" into "CODE args" and text.
func responseCode(text string) (code, rest string) {
	if !strings.HasPrefix(text, "[") {
		return "", text
	}
	end := strings.IndexByte(text, ']')
	if end < 0 {
		return "", text
	}
	return text[1:end], strings.TrimSpace(text[end+1:])
}

// capsFromGreeting uses a "[CAPABILITY ...]" code in the greeting, which
// saves a round trip (Dovecot and most servers send it). The greeting is
// one line (at most maxLine), so it always fits the lists' byte bound.
func capsFromGreeting(text string) imapCaps {
	var caps imapCaps
	code, _ := responseCode(text)
	if name, list, _ := strings.Cut(code, " "); strings.EqualFold(name, "CAPABILITY") {
		_ = caps.add(list)
	}
	return caps
}

func checkIMAP(s *session) error {
	err := s.imapConversation()
	s.logout(s.nextTag() + " LOGOUT")
	return err
}

// imapGreeting reads the greeting: "* OK" and "* PREAUTH" pass (the
// caller decides what PREAUTH means to it), "* BYE" and anything else fail.
func (s *session) imapGreeting() (imapResponse, error) {
	start := time.Now()
	greeting, err := s.readIMAP()
	if err != nil {
		return greeting, wrapf(Classify(err), err, "reading the IMAP greeting from %s", s.target.Address())
	}
	if greeting.Tag != "*" {
		return greeting, protocolErr("IMAP greeting failed, response: %s", s.quoted(greeting.Line))
	}
	switch greeting.Status {
	case "OK", "PREAUTH":
	case "BYE":
		return greeting, protocolErr("IMAP server refused the connection: %s", s.quoted(greeting.Line))
	default:
		return greeting, protocolErr("IMAP greeting failed, response: %s", s.quoted(greeting.Line))
	}
	s.step("greeting", start)
	return greeting, nil
}

func (s *session) imapConversation() error {
	t := s.target
	greeting, err := s.imapGreeting()
	if err != nil {
		return err
	}
	if greeting.Status == "PREAUTH" {
		return protocolErr("IMAP server greeted with PREAUTH (already authenticated), a login cannot be checked: %s", s.quoted(greeting.Line))
	}

	caps := capsFromGreeting(greeting.Text)
	if !caps.seen {
		if caps, err = s.imapCapability(); err != nil {
			return err
		}
	}
	if t.TLSMode == TLSStartTLS {
		if !caps.startTLS {
			return protocolErr("IMAP STARTTLS capability not advertised by %s", t.Address())
		}
		tag := s.nextTag()
		if err := s.writeLine(tag + " STARTTLS"); err != nil {
			return err
		}
		reply, err := s.imapTagged(tag, nil)
		if err != nil {
			return err
		}
		if reply.Status != "OK" {
			return protocolErr("IMAP STARTTLS failed: %s", s.quoted(reply.Line))
		}
		if err := s.startTLS(); err != nil {
			return err
		}
		// Capabilities before TLS may have been forged; RFC 3501 §6.2.1
		// requires asking again.
		if caps, err = s.imapCapability(); err != nil {
			return err
		}
	}

	user, pass, ok, err := s.credentials()
	if err != nil || !ok {
		return err
	}
	if caps.loginDisabled && !s.isTLS() {
		return configErr("IMAP server %s advertises LOGINDISABLED: logging in needs TLS (tls_mode: starttls or implicit)", t.Address())
	}
	m, err := s.choose(advertised{Source: "IMAP CAPABILITY", Mechs: caps.mechs, IR: caps.saslIR})
	if err != nil {
		return err
	}
	s.res.Mechanism = m.String()
	return s.imapAuthenticate(m, user, pass)
}

func (s *session) imapCapability() (imapCaps, error) {
	start := time.Now()
	var caps imapCaps
	tag := s.nextTag()
	if err := s.writeLine(tag + " CAPABILITY"); err != nil {
		return caps, err
	}
	reply, err := s.imapTagged(tag, &caps)
	if err != nil {
		return caps, err
	}
	if reply.Status != "OK" {
		return caps, protocolErr("IMAP command %s failed: %s", tag+" CAPABILITY", s.quoted(reply.Line))
	}
	s.step("capabilities", start)
	return caps, nil
}

// imapAuthenticate runs AUTHENTICATE (RFC 3501 §6.2.2, SASL-IR RFC 4959).
// Each server continuation gets the next client response; one too many is
// a protocol error, because answering it would mean guessing.
func (s *session) imapAuthenticate(m mechanism, user, pass string) error {
	start := time.Now()
	tag := s.nextTag()
	command := tag + " AUTHENTICATE " + m.Name
	var responses []string
	var err error
	switch {
	case m.Name == "PLAIN" && m.IR:
		err = s.writeSecret(command+" "+plainResponse(user, pass), command+" "+redacted)
	case m.Name == "PLAIN":
		err = s.writeLine(command)
		responses = []string{plainResponse(user, pass)}
	case m.Name == "LOGIN" && m.IR:
		err = s.writeSecret(command+" "+b64(user), command+" "+redacted)
		responses = []string{b64(pass)}
	case m.Name == "LOGIN":
		err = s.writeLine(command)
		responses = []string{b64(user), b64(pass)}
	default:
		return configErr("IMAP has no %s login", m.Name)
	}
	if err != nil {
		return err
	}
	for range maxResponseLines {
		r, err := s.readIMAP()
		if err != nil {
			return wrapf(Classify(err), err, "IMAP AUTHENTICATE %s", m.Name)
		}
		switch {
		case r.Tag == "+":
			if len(responses) == 0 {
				s.saslAbandoned()
				return protocolErr("IMAP server sent an unexpected continuation during AUTHENTICATE %s: %s", m.Name, s.quoted(r.Line))
			}
			if err := s.writeSecret(responses[0], redacted); err != nil {
				return err
			}
			responses = responses[1:]
		case strings.EqualFold(r.Tag, tag):
			return s.imapAuthResult(m, r, start)
		case r.Tag == "*" && r.Status == "BYE":
			return protocolErr("IMAP server closed the session during AUTHENTICATE %s: %s", m.Name, s.quoted(r.Line))
		case r.Tag == "*":
			// Dovecot may send "* CAPABILITY ..." before the tagged OK.
		default:
			return protocolErr("IMAP server answered with an unknown tag: %s", s.quoted(r.Line))
		}
	}
	return protocolErr("IMAP server sent more than %d lines during AUTHENTICATE", maxResponseLines)
}

func (s *session) imapAuthResult(m mechanism, r imapResponse, start time.Time) error {
	// A refusal is timed too: a slow "NO" (auth failure delays) is what an
	// operator debugging a backend needs to see.
	s.step("auth", start)
	switch r.Status {
	case "OK":
		return nil
	case "NO":
		code, _ := responseCode(r.Text)
		name, _, _ := strings.Cut(code, " ")
		switch strings.ToUpper(name) {
		case "", "AUTHENTICATIONFAILED", "AUTHORIZATIONFAILED", "EXPIRED":
			return authErr("IMAP AUTHENTICATE %s failed: %s", m.Name, s.quoted(r.Line))
		case "PRIVACYREQUIRED":
			return configErr("IMAP AUTHENTICATE %s refused without TLS: %s", m.Name, s.quoted(r.Line))
		}
	}
	return protocolErr("IMAP AUTHENTICATE %s failed: %s", m.Name, s.quoted(r.Line))
}
