package probe

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// maxLine bounds one server line. Real servers send a few hundred bytes; a
// hostile one sending megabytes without CRLF must not grow our memory.
const maxLine = 64 << 10

// session is one deep-phase conversation: a line reader and writer over the
// connection left by the connect phase, with a deadline, timed steps and an
// optional redacted transcript. Protocol files use only this.
type session struct {
	conn   net.Conn
	r      *bufio.Reader
	target *Target
	res    *Result
	record bool
	// secrets are the forms of the password that must never leave the
	// session: a hostile server could echo them back in a line we log.
	secrets []string
	// tagSeq numbers IMAP commands: a1, a2, ...
	tagSeq int
	// deadline ends the whole deep phase: deep_timeout from its start.
	// STARTTLS and ManageSieve's wait for capabilities stay inside it.
	deadline time.Time
	// unusable is set once the server can no longer read a command: a
	// read or write failed (timeout, closed, reset), a TLS handshake was
	// left undone after the server agreed to STARTTLS, or the server said
	// it is closing. Then no goodbye is sent (goodbye.go).
	unusable bool
	// greetingRefused: the server greeted with a well-formed refusal it
	// waits out for our QUIT (SMTP 554, RFC 5321 §3.1), not garbage.
	greetingRefused bool
}

// watchedReader is what the session's line reader reads from: every
// read error (a timeout, the server's close, a reset) marks the session
// unusable, whichever reader method (line, literal, peek) met it.
type watchedReader struct{ s *session }

func (w watchedReader) Read(p []byte) (int, error) {
	n, err := w.s.conn.Read(p)
	if err != nil {
		w.s.unusable = true
	}
	return n, err
}

// newSession starts the deep phase: deep_timeout runs from here and the
// connection's deadline is set to its end.
func newSession(conn net.Conn, t *Target, res *Result, opts Options) *session {
	return newSessionUntil(conn, t, res, opts, time.Now().Add(orDefault(t.DeepTimeout)))
}

// newSessionUntil is newSession ending at deadline (a connect-only check's
// greeting and goodbye keep to the connect phase's budget).
func newSessionUntil(conn net.Conn, t *Target, res *Result, opts Options, deadline time.Time) *session {
	s := &session{conn: conn, target: t, res: res, record: opts.Transcript}
	s.deadline = deadline
	_ = conn.SetDeadline(s.deadline)
	s.r = bufio.NewReaderSize(watchedReader{s}, 4096)
	if t.Password != "" {
		s.withhold(plainResponse(t.Username, t.Password), b64(t.Username+":"+t.Password), b64(t.Password), t.Password)
	}
	s.withhold(tcpSecretForms(t.TCPSteps)...)
	return s
}

// withhold makes values secrets of the session, scrubbed from every line
// a transcript or error quotes; empty ones, the placeholder itself and
// those already held are skipped. The list stays longest first: scrub
// replaces in order, and a secret inside a longer one would otherwise cut
// it apart and leave its rest.
func (s *session) withhold(values ...string) {
	for _, v := range values {
		if v != "" && v != redacted && !slices.Contains(s.secrets, v) {
			s.secrets = append(s.secrets, v)
		}
	}
	sort.SliceStable(s.secrets, func(i, j int) bool { return len(s.secrets[i]) > len(s.secrets[j]) })
}

// scrub replaces any form of the password in a server line that goes into
// an error message or the transcript, in whatever case the server echoes
// it (ASCII letters).
func (s *session) scrub(line string) string {
	for _, secret := range s.secrets {
		line = replaceFold(line, secret, redacted)
	}
	return line
}

// errLineTooLong is a protocol violation by the server.
var errLineTooLong = protocolErr("server line longer than %d bytes", maxLine)

// maxResponseBytes bounds the lines of one SMTP/LMTP reply or ManageSieve
// response a check keeps (real greetings and capability lists have a few
// KiB): maxReplyLines lines of maxLine each would be 64 MiB a probe.
const maxResponseBytes = 256 << 10

var errResponseTooLong = protocolErr("server response longer than %d bytes", maxResponseBytes)

// readLine returns one line without its CRLF (a bare LF is accepted).
func (s *session) readLine() (string, error) {
	var buf []byte
	for {
		chunk, err := s.r.ReadSlice('\n')
		if len(buf)+len(chunk) > maxLine {
			return "", errLineTooLong
		}
		buf = append(buf, chunk...)
		if err == nil {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, io.EOF) {
			if len(buf) > 0 {
				s.note("S: ", string(buf))
			}
			return "", protocolErr("connection closed by server")
		}
		return "", err
	}
	line := strings.TrimRight(string(buf), "\r\n")
	s.note("S: ", line)
	return line, nil
}

// ErrUnsafeValue is wrapped by every error that refuses to send a value
// holding CR, LF or NUL. On a line protocol such a value would end the
// command and start another ("pw\r\nDELE 1"), and a NUL would split a SASL
// PLAIN message. The errors name the field, never the value.
var ErrUnsafeValue = errors.New("value contains CR, LF or NUL")

// hasLineBreak tells whether v must not be interpolated into a line.
func hasLineBreak(v string) bool { return strings.ContainsAny(v, "\r\n\x00") }

func unsafeValue(reason Reason, format string, args ...any) error {
	return wrapf(reason, ErrUnsafeValue, format, args...)
}

// writeLine sends line plus CRLF.
func (s *session) writeLine(line string) error {
	return s.writeSecret(line, line)
}

// writeSecret sends a line that carries credentials; the transcript shows
// shown instead (e.g. "a2 AUTHENTICATE PLAIN <redacted>"). It is the one
// place every protocol writes a command through, so it refuses a line with
// CR, LF or NUL whatever the protocol file interpolated into it.
func (s *session) writeSecret(line, shown string) error {
	return s.writeLines([]string{line}, []string{shown})
}

// writeLines sends lines, each plus CRLF, in one write (an HTTP request);
// shown[i] stands for lines[i] in the transcript. Nothing is sent when any
// line holds CR, LF or NUL.
func (s *session) writeLines(lines, shown []string) error {
	return s.writeLinesThen(lines, shown, "")
}

// writeLinesThen is writeLines with raw bytes after the lines, in the same
// write (an HTTP request body: its transcript line is the caller's). The
// raw part may hold any byte; only the lines are checked.
func (s *session) writeLinesThen(lines, shown []string, raw string) error {
	size := len(raw)
	for _, line := range lines {
		if hasLineBreak(line) {
			return unsafeValue(ReasonConfig, "%s command not sent to %s", strings.ToUpper(s.target.Protocol), s.target.Address())
		}
		size += len(line) + 2
	}
	buf := make([]byte, 0, size)
	for i, line := range lines {
		s.note("C: ", shown[i])
		buf = append(append(buf, line...), '\r', '\n')
	}
	buf = append(buf, raw...)
	_, err := s.conn.Write(buf)
	if err != nil {
		// A part of the line may have gone out: the server would read the
		// goodbye as the rest of it.
		s.unusable = true
	}
	return err
}

func (s *session) note(prefix, line string) {
	if s.record {
		line = s.scrub(line)
		const keep = 512
		if len(line) > keep {
			line = line[:keep] + "…"
		}
		s.res.Transcript = append(s.res.Transcript, prefix+line)
	}
}

// step records a timed stage that began at start.
func (s *session) step(name string, start time.Time) {
	s.res.Steps = append(s.res.Steps, Step{Name: name, Duration: time.Since(start)})
}

// startTLS upgrades the connection after a STARTTLS/STLS answer: the
// handshake gets tls_timeout, but never past the deep deadline, which then
// goes on as it was. (Seed 004 restarted deep_timeout here, so a server slow
// on both sides of STARTTLS doubled the check; issue 9 item 7.)
func (s *session) startTLS() error {
	start := time.Now()
	// The server now waits for a ClientHello; until the handshake is done
	// it reads no command.
	s.unusable = true
	if s.r.Buffered() > 0 {
		// Bytes after the STARTTLS answer and before our ClientHello would be
		// a command-injection vector (CVE-2011-0411 class); refuse them.
		return protocolErr("server sent data after the STARTTLS answer and before the TLS handshake")
	}
	tc := tls.Client(s.conn, s.target.handshakeConfig(s.res))
	_ = tc.SetDeadline(s.within(orDefault(s.target.TLSTimeout)))
	if err := tc.Handshake(); err != nil {
		return wrapf(ReasonTLS, err, "STARTTLS handshake with %s failed", s.target.Address())
	}
	_ = tc.SetDeadline(s.deadline)
	s.conn = tc
	s.r = bufio.NewReaderSize(watchedReader{s}, 4096)
	s.unusable = false
	s.note("-- ", "TLS established"+noteTLS(s.res, tc.ConnectionState()))
	s.step("starttls", start)
	return nil
}

// within is now+d, or the deep deadline when that comes first.
func (s *session) within(d time.Duration) time.Time {
	t := time.Now().Add(d)
	if !s.deadline.IsZero() && t.After(s.deadline) {
		return s.deadline
	}
	return t
}

// isTLS tells whether credentials may be sent.
func (s *session) isTLS() bool {
	_, ok := s.conn.(*tls.Conn)
	return ok
}

// maxQuoted bounds a server line quoted in an error message.
const maxQuoted = 200

// quoted is a server line fit for an error message: scrubbed, control
// characters escaped (errors reach logs, the status API and the status
// page; a hostile server must not rewrite a terminal or a log line) and
// clipped at a character boundary.
func (s *session) quoted(line string) string {
	line = escapeControl(s.scrub(line))
	if len(line) > maxQuoted {
		cut := maxQuoted
		for cut > 0 && !utf8.RuneStart(line[cut]) {
			cut--
		}
		line = line[:cut] + "…"
	}
	return line
}

// escapeControl writes C0 and C1 control characters and DEL as \r, \n,
// \t or \xNN / \u00NN, and replaces invalid UTF-8.
func escapeControl(line string) string {
	isControl := func(r rune) bool { return r < 0x20 || (r >= 0x7f && r <= 0x9f) || r == utf8.RuneError }
	if !strings.ContainsFunc(line, isControl) {
		return line
	}
	line = strings.ToValidUTF8(line, "\uFFFD")
	var b strings.Builder
	for _, r := range line {
		switch {
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r >= 0x80 && r <= 0x9f:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
