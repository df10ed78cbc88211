package probe

import (
	"errors"
	"io"
	"strconv"
	"strings"
	"time"
)

// ManageSieve (RFC 5804). Responses are lines of strings (quoted or
// literal) ended by a status line OK, NO or BYE. During AUTHENTICATE a line
// that starts with a string is a server challenge; Pigeonhole sends `""` as
// the empty PLAIN challenge, which a reader looking only for status lines
// would wait on forever.

type sieveToken struct {
	str bool // a quoted string or a literal; otherwise an atom
	val string
}

// tokenizeSieve splits one physical line. literal is the size of a literal
// announced at its end, or -1.
func tokenizeSieve(line string) (tokens []sieveToken, literal int, err error) {
	literal = -1
	for i := 0; i < len(line); {
		switch c := line[i]; {
		case c == ' ':
			i++
		case c == '"':
			var b strings.Builder
			i++
			closed := false
			for i < len(line) && !closed {
				switch line[i] {
				case '\\':
					if i+1 >= len(line) {
						return nil, -1, errors.New("unterminated quoted string")
					}
					b.WriteByte(line[i+1])
					i += 2
				case '"':
					closed = true
					i++
				default:
					b.WriteByte(line[i])
					i++
				}
			}
			if !closed {
				return nil, -1, errors.New("unterminated quoted string")
			}
			tokens = append(tokens, sieveToken{str: true, val: b.String()})
		case c == '{':
			n, ok := literalSize(line[i:])
			if !ok || strings.IndexByte(line[i:], ' ') >= 0 {
				return nil, -1, errors.New("malformed literal")
			}
			return tokens, n, nil
		default:
			end := strings.IndexAny(line[i:], " \"")
			if end < 0 {
				end = len(line) - i
			}
			tokens = append(tokens, sieveToken{val: line[i : i+end]})
			i += end
		}
	}
	return tokens, literal, nil
}

// sieveBudget bounds what one response may make a check keep: literal
// bytes (maxLiteral) and line bytes (maxResponseBytes; an empty literal
// costs no literal bytes but a line).
type sieveBudget struct{ literal, lines int }

func newSieveBudget() sieveBudget {
	return sieveBudget{literal: maxLiteral, lines: maxResponseBytes}
}

// readLine reads one physical line of the response b belongs to.
func (b *sieveBudget) readLine(s *session) (string, error) {
	line, err := s.readLine()
	if err != nil {
		return "", err
	}
	if b.lines -= len(line) + 2; b.lines < 0 {
		return "", errResponseTooLong
	}
	return line, nil
}

// readSieveLine reads one logical line: a physical line plus the literals
// it announces and the text after them, within budget.
func (s *session) readSieveLine(budget *sieveBudget) (tokens []sieveToken, first string, err error) {
	line, err := budget.readLine(s)
	if err != nil {
		return nil, "", err
	}
	first = line
	for {
		part, literal, err := tokenizeSieve(line)
		if err != nil {
			return nil, first, protocolErr("ManageSieve server sent a bad line (%v): %s", err, s.quoted(first))
		}
		tokens = append(tokens, part...)
		if literal < 0 {
			if sieveStatus(tokens) == "BYE" {
				s.serverClosing() // RFC 5804 §1.3: it closes; no LOGOUT follows
			}
			return tokens, first, nil
		}
		if literal > budget.literal {
			return nil, first, protocolErr("server announced a literal of %d bytes; the limit is %d", literal, maxLiteral)
		}
		budget.literal -= literal
		buf := make([]byte, literal)
		if _, err := io.ReadFull(s.r, buf); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, first, protocolErr("connection closed by server inside a literal")
			}
			return nil, first, err
		}
		s.note("S: ", "<literal of "+strconv.Itoa(literal)+" bytes>")
		tokens = append(tokens, sieveToken{str: true, val: string(buf)})
		if line, err = budget.readLine(s); err != nil {
			return nil, first, err
		}
	}
}

// sieveResponse is a complete response: data lines and the status line.
type sieveResponse struct {
	data   [][]sieveToken
	status string // OK, NO or BYE
	line   string // the status line, for messages
}

func sieveStatus(tokens []sieveToken) string {
	if len(tokens) == 0 || tokens[0].str {
		return ""
	}
	switch status := strings.ToUpper(tokens[0].val); status {
	case "OK", "NO", "BYE":
		return status
	}
	return ""
}

func (s *session) readSieveResponse() (sieveResponse, error) {
	var resp sieveResponse
	budget := newSieveBudget()
	for range maxResponseLines {
		tokens, line, err := s.readSieveLine(&budget)
		if err != nil {
			return resp, err
		}
		if status := sieveStatus(tokens); status != "" {
			resp.status, resp.line = status, line
			return resp, nil
		}
		if len(tokens) == 0 || !tokens[0].str {
			return resp, protocolErr("ManageSieve server sent an unexpected line: %s", s.quoted(line))
		}
		resp.data = append(resp.data, tokens)
	}
	return resp, protocolErr("ManageSieve server sent more than %d lines without a status", maxResponseLines)
}

type sieveCaps struct {
	mechs    map[string]bool
	saslIR   bool
	startTLS bool
}

func parseSieveCaps(data [][]sieveToken) sieveCaps {
	caps := sieveCaps{mechs: map[string]bool{}}
	for _, tokens := range data {
		switch strings.ToUpper(tokens[0].val) {
		case "SASL":
			if len(tokens) > 1 {
				// SASL names only, as with the other protocols.
				addMechs(caps.mechs, strings.Fields(tokens[1].val))
			}
		case "SASL-IR":
			caps.saslIR = true
		case "STARTTLS":
			caps.startTLS = true
		}
	}
	return caps
}

func checkSieve(s *session) error {
	err := s.sieveConversation()
	s.logout("LOGOUT")
	return err
}

// sieveGreeting reads the greeting (the capability list), which must end
// with OK.
func (s *session) sieveGreeting() (sieveResponse, error) {
	start := time.Now()
	greeting, err := s.readSieveResponse()
	if err != nil {
		return greeting, wrapf(Classify(err), err, "reading the ManageSieve greeting from %s", s.target.Address())
	}
	if greeting.status != "OK" {
		return greeting, protocolErr("ManageSieve greeting failed: %s", s.quoted(greeting.line))
	}
	s.step("greeting", start)
	return greeting, nil
}

func (s *session) sieveConversation() error {
	t := s.target
	greeting, err := s.sieveGreeting()
	if err != nil {
		return err
	}
	caps := parseSieveCaps(greeting.data)

	if t.TLSMode == TLSStartTLS {
		if !caps.startTLS {
			return protocolErr("sieve STARTTLS capability not advertised by %s", t.Address())
		}
		if err := s.writeLine("STARTTLS"); err != nil {
			return err
		}
		reply, err := s.readSieveResponse()
		if err != nil {
			return err
		}
		if reply.status != "OK" {
			return protocolErr("STARTTLS command failed: %s", s.quoted(reply.line))
		}
		if err := s.startTLS(); err != nil {
			return err
		}
		if caps, err = s.sieveCapabilitiesAfterTLS(); err != nil {
			return err
		}
	}

	user, pass, ok, err := s.credentials()
	if err != nil || !ok {
		return err
	}
	m, err := s.choose(advertised{Source: "sieve capabilities", Mechs: caps.mechs, IR: caps.saslIR})
	if err != nil {
		return err
	}
	s.res.Mechanism = m.String()
	return s.sieveAuthenticate(m, user, pass)
}

// sieveCapabilitiesAfterTLS reads the capability list a server sends on its
// own after the handshake (RFC 5804 §2.2; Pigeonhole does). Asking with
// CAPABILITY as well would leave that unsolicited list in the stream, so we
// ask only if nothing arrives within tls_timeout (a pre-RFC server).
func (s *session) sieveCapabilitiesAfterTLS() (sieveCaps, error) {
	start := time.Now()
	wait := min(orDefault(s.target.TLSTimeout), orDefault(s.target.DeepTimeout)/2)
	_ = s.conn.SetReadDeadline(s.within(wait))
	_, err := s.r.Peek(1)
	_ = s.conn.SetReadDeadline(s.deadline)
	if err != nil {
		if Classify(err) != ReasonTimeout || !time.Now().Before(s.deadline) {
			return sieveCaps{}, err
		}
		// This timeout was the wait for an unsolicited list, not the
		// server's silence: the session goes on.
		s.unusable = false
		if err := s.writeLine("CAPABILITY"); err != nil {
			return sieveCaps{}, err
		}
	}
	resp, err := s.readSieveResponse()
	if err != nil {
		return sieveCaps{}, err
	}
	if resp.status != "OK" {
		return sieveCaps{}, protocolErr("ManageSieve capabilities after STARTTLS failed: %s", s.quoted(resp.line))
	}
	s.step("capabilities", start)
	return parseSieveCaps(resp.data), nil
}

func (s *session) sieveAuthenticate(m mechanism, user, pass string) error {
	start := time.Now()
	command := `AUTHENTICATE "` + m.Name + `"`
	var responses []string
	var err error
	switch {
	case m.Name == "PLAIN" && m.IR:
		err = s.writeSecret(command+` "`+plainResponse(user, pass)+`"`, command+` "`+redacted+`"`)
	case m.Name == "PLAIN":
		err = s.writeLine(command)
		responses = []string{plainResponse(user, pass)}
	case m.Name == "LOGIN" && m.IR:
		err = s.writeSecret(command+` "`+b64(user)+`"`, command+` "`+redacted+`"`)
		responses = []string{b64(pass)}
	case m.Name == "LOGIN":
		err = s.writeLine(command)
		responses = []string{b64(user), b64(pass)}
	default:
		return configErr("ManageSieve has no %s login", m.Name)
	}
	if err != nil {
		return err
	}
	budget := newSieveBudget()
	for range maxResponseLines {
		tokens, line, err := s.readSieveLine(&budget)
		if err != nil {
			return wrapf(Classify(err), err, "sieve AUTHENTICATE %s", m.Name)
		}
		if len(tokens) > 0 && tokens[0].str {
			if len(responses) == 0 {
				s.saslAbandoned()
				return protocolErr("ManageSieve server sent an unexpected challenge during AUTHENTICATE %s: %s", m.Name, s.quoted(line))
			}
			if err := s.writeSecret(`"`+responses[0]+`"`, `"`+redacted+`"`); err != nil {
				return err
			}
			responses = responses[1:]
			continue
		}
		switch sieveStatus(tokens) {
		case "OK":
			s.step("auth", start)
			return nil
		case "NO":
			s.step("auth", start)
			if code := sieveCode(tokens); code == "ENCRYPT-NEEDED" || code == "TRANSITION-NEEDED" || code == "AUTH-TOO-WEAK" {
				return configErr("sieve AUTHENTICATE %s refused: %s", m.Name, s.quoted(line))
			}
			return authErr("sieve AUTHENTICATE %s failed: %s", m.Name, s.quoted(line))
		case "BYE":
			return protocolErr("ManageSieve server closed the session during AUTHENTICATE %s: %s", m.Name, s.quoted(line))
		default:
			return protocolErr("ManageSieve server sent an unexpected line during AUTHENTICATE %s: %s", m.Name, s.quoted(line))
		}
	}
	return protocolErr("ManageSieve server sent more than %d lines during AUTHENTICATE", maxResponseLines)
}

// sieveCode returns the response code of a status line, e.g. "NO (TRYLATER) ...".
func sieveCode(tokens []sieveToken) string {
	if len(tokens) < 2 || tokens[1].str || !strings.HasPrefix(tokens[1].val, "(") {
		return ""
	}
	return strings.ToUpper(strings.Trim(tokens[1].val, "()"))
}
