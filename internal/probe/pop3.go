package probe

import (
	"strings"
	"time"
)

// checkPOP3 runs greeting, CAPA, optional STLS and, with credentials, one
// login: native USER/PASS or classic SASL PLAIN/LOGIN. POP3 has no SASL-IR
// capability, so initial responses are never used. It ends with QUIT
// whether the conversation passed or not, unless the server can no longer
// read it (goodbye.go).
func checkPOP3(s *session) error {
	err := s.pop3Conversation()
	s.logout("QUIT")
	return err
}

func (s *session) pop3Conversation() error {
	if err := s.pop3Greeting(); err != nil {
		return err
	}
	caps, err := s.pop3Capa()
	if err != nil {
		return err
	}
	if s.target.TLSMode == TLSStartTLS {
		if caps, err = s.pop3STLS(caps); err != nil {
			return err
		}
	}
	user, pass, ok, err := s.credentials()
	if err != nil || !ok {
		// A refusal writes no USER, PASS or AUTH: the server sees only QUIT.
		return err
	}
	mech, err := s.choose(advertised{Source: "CAPA", Mechs: caps.mechs, IR: false})
	if err != nil {
		return err
	}
	return s.pop3Auth(mech, user, pass)
}

// pop3Greeting reads the greeting, which must be +OK.
func (s *session) pop3Greeting() error {
	start := time.Now()
	greeting, err := s.readLine()
	if err != nil {
		return ioFailed(err, "POP3 greeting")
	}
	if !pop3OK(greeting) {
		return protocolErr("POP3 greeting failed, response: %s", s.quoted(greeting))
	}
	s.step("greeting", start)
	return nil
}

// pop3Capa sends CAPA and reads the list. A server without CAPA (RFC 1939
// only) answers -ERR; it then advertises nothing, so a check with
// credentials fails as "mechanism unavailable" rather than guessing that
// USER/PASS works: seed 004 only uses USERPASS when USER is advertised, and
// Dovecot D shows an advertised USER can still fail.
func (s *session) pop3Capa() (pop3Caps, error) {
	start := time.Now()
	if err := s.writeLine("CAPA"); err != nil {
		return pop3Caps{}, ioFailed(err, "POP3 CAPA")
	}
	status, err := s.readLine()
	if err != nil {
		return pop3Caps{}, ioFailed(err, "POP3 CAPA")
	}
	switch {
	case pop3Err(status):
		s.step("capabilities", start)
		return parsePOP3Capa(nil), nil
	case !pop3OK(status):
		return pop3Caps{}, protocolErr("POP3 CAPA failed, response: %s", s.quoted(status))
	}
	lines, err := readPOP3List(s.readLine)
	if err != nil {
		return pop3Caps{}, ioFailed(err, "POP3 CAPA")
	}
	s.step("capabilities", start)
	return parsePOP3Capa(lines), nil
}

// pop3STLS upgrades the connection; capabilities seen before TLS are
// discarded and asked for again (RFC 2595 §4).
func (s *session) pop3STLS(caps pop3Caps) (pop3Caps, error) {
	if !caps.stls {
		return pop3Caps{}, protocolErr("POP3 STLS capability not advertised by %s", s.target.Address())
	}
	if err := s.writeLine("STLS"); err != nil {
		return pop3Caps{}, ioFailed(err, "POP3 STLS")
	}
	answer, err := s.readLine()
	if err != nil {
		return pop3Caps{}, ioFailed(err, "POP3 STLS")
	}
	if !pop3OK(answer) {
		return pop3Caps{}, protocolErr("POP3 STLS command failed, response: %s", s.quoted(answer))
	}
	if err := s.startTLS(); err != nil {
		return pop3Caps{}, err
	}
	return s.pop3Capa()
}

// pop3Auth logs in once with m; a refusal is final.
func (s *session) pop3Auth(m mechanism, user, pass string) error {
	start := time.Now()
	s.res.Mechanism = m.String()
	var err error
	switch m.Name {
	case "USERPASS":
		err = s.pop3UserPass(user, pass)
	case "PLAIN":
		err = s.pop3SASL("PLAIN", []string{plainResponse(user, pass)})
	case "LOGIN":
		err = s.pop3SASL("LOGIN", []string{b64(user), b64(pass)})
	default:
		err = configErr("POP3 cannot authenticate with %s", m.Name)
	}
	s.step("auth", start) // refusals are timed too
	return err
}

func (s *session) pop3UserPass(user, pass string) error {
	if err := s.writeLine("USER " + user); err != nil {
		return ioFailed(err, "POP3 USER")
	}
	if err := s.pop3Expect("USER"); err != nil {
		return err
	}
	if err := s.writeSecret("PASS "+pass, "PASS "+redacted); err != nil {
		return ioFailed(err, "POP3 PASS")
	}
	return s.pop3Expect("PASS")
}

// pop3Expect reads the +OK that ends a login command.
func (s *session) pop3Expect(command string) error {
	answer, err := s.readLine()
	if err != nil {
		return ioFailed(err, "POP3 %s", command)
	}
	if pop3OK(answer) {
		return nil
	}
	return pop3Refused(command, s.quoted(answer))
}

// pop3SASL runs "AUTH <mech>" in classic form: one payload per "+"
// continuation, whose text is never compared.
func (s *session) pop3SASL(name string, payloads []string) error {
	command := "AUTH " + name
	if err := s.writeLine(command); err != nil {
		return ioFailed(err, "POP3 %s", command)
	}
	for {
		answer, err := s.readLine()
		if err != nil {
			return ioFailed(err, "POP3 %s", command)
		}
		switch {
		case pop3OK(answer):
			return nil
		case pop3Continuation(answer) && len(payloads) > 0:
			if err := s.writeSecret(payloads[0], redacted); err != nil {
				return ioFailed(err, "POP3 %s", command)
			}
			payloads = payloads[1:]
		case pop3Continuation(answer):
			s.saslAbandoned()
			return protocolErr("POP3 %s failed: unexpected continuation after the last response: %s", command, s.quoted(answer))
		default:
			return pop3Refused(command, s.quoted(answer))
		}
	}
}

// pop3Refused classifies an answer to a login step. -ERR means the login was
// refused (RFC 2449's [AUTH] code, or a bare -ERR from older servers), except
// [SYS/TEMP] and [SYS/PERM], which blame the server, not the account.
func pop3Refused(command, shown string) error {
	if !pop3Err(shown) {
		return protocolErr("POP3 %s failed, unexpected response: %s", command, shown)
	}
	code := strings.ToUpper(strings.TrimSpace(shown[len("-ERR"):]))
	if strings.HasPrefix(code, "[SYS/") {
		return protocolErr("POP3 %s failed: %s", command, shown)
	}
	return authErr("POP3 %s failed: %s", command, shown)
}

// pop3OK and pop3Err test the status indicator, which RFC 1939 says is
// upper case and followed by a space or the line end.
func pop3OK(line string) bool  { return line == "+OK" || strings.HasPrefix(line, "+OK ") }
func pop3Err(line string) bool { return line == "-ERR" || strings.HasPrefix(line, "-ERR ") }

// pop3Continuation is the SASL challenge "+ <b64>" (Dovecot sends "+ " for
// an empty one); "+OK" is not a continuation.
func pop3Continuation(line string) bool { return line == "+" || strings.HasPrefix(line, "+ ") }

// readPOP3List reads a multi-line response body up to the "." line,
// removing the byte-stuffed leading dot of RFC 1939 §3. It keeps at most
// maxResponseBytes of lines, as an SMTP reply (a CAPA list of
// maxReplyLines lines of maxLine each would be 64 MiB a probe).
func readPOP3List(next func() (string, error)) ([]string, error) {
	var lines []string
	size := 0
	for {
		line, err := next()
		if err != nil {
			return nil, err
		}
		if size += len(line) + 2; size > maxResponseBytes {
			return nil, errResponseTooLong
		}
		if line == "." {
			return lines, nil
		}
		if len(lines) >= maxReplyLines {
			return nil, protocolErr("POP3 list longer than %d lines", maxReplyLines)
		}
		lines = append(lines, strings.TrimPrefix(line, "."))
	}
}

// pop3Caps is what CAPA advertised that the probe cares about.
type pop3Caps struct {
	mechs map[string]bool
	stls  bool
}

// parsePOP3Capa maps "USER" to USERPASS and "SASL m1 m2" to SASL names.
// Dovecot C from an untrusted network sends "SASL" with an empty list.
func parsePOP3Capa(lines []string) pop3Caps {
	caps := pop3Caps{mechs: map[string]bool{}}
	for _, line := range lines {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		switch strings.ToUpper(fields[0]) {
		case "USER":
			caps.mechs["USERPASS"] = true
		case "STLS":
			caps.stls = true
		case "SASL":
			addMechs(caps.mechs, fields[1:])
		}
	}
	return caps
}
