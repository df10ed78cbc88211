package probe

import (
	"strings"
	"time"

	"github.com/backline/backline/internal/config"
)

// greetingChecks are the connect-only checks with connect_check: greeting.
// Each reads the greeting with the protocol file's reader (so a light and
// a deep check judge it alike) and then takes its leave the way a client
// does, so the server logs a client that logged out rather than one that
// vanished (haproxy#1812: Exchange logged a SocketError for every check
// that left without QUIT; haproxy#980: nothing is sent before the
// greeting). HTTP has no greeting and is not here.
var greetingChecks = map[string]func(s *session) error{
	"imap":  greetIMAP,
	"pop3":  greetPOP3,
	"smtp":  func(s *session) error { return greetSMTPFamily(s, dialectSMTP) },
	"lmtp":  func(s *session) error { return greetSMTPFamily(s, dialectLMTP) },
	"sieve": greetSieve,
}

// HasGreeting tells whether protocol greets first, so a connect-only check
// can read the greeting and say goodbye (connect_check: greeting).
func HasGreeting(protocol string) bool {
	_, ok := greetingChecks[protocol]
	return ok
}

// ConnectCheck is what a connect-only check of t does, in the words of
// the key connect_check: greeting (read it, say goodbye) or tcp (close
// after connecting; always for http, which has no greeting).
func (t *Target) ConnectCheck() string {
	if t.ConnectGreeting && HasGreeting(t.Protocol) {
		return config.ConnectCheckGreeting
	}
	return config.ConnectCheckTCP
}

func greetIMAP(s *session) error {
	if _, err := s.imapGreeting(); err != nil {
		return err
	}
	tag := s.nextTag()
	s.goodbye(tag+" LOGOUT", func() error {
		// "* BYE Logging out" comes first; the tagged OK ends the answer.
		for range maxResponseLines {
			r, err := s.readIMAP()
			if err != nil || strings.EqualFold(r.Tag, tag) {
				return err
			}
		}
		return protocolErr("no tagged answer to LOGOUT")
	})
	return nil
}

func greetPOP3(s *session) error {
	if err := s.pop3Greeting(); err != nil {
		return err
	}
	s.goodbye("QUIT", func() error {
		_, err := s.readLine()
		return err
	})
	return nil
}

func greetSMTPFamily(s *session, d smtpDialect) error {
	if err := s.smtpGreeting(d); err != nil {
		if s.greetingRefused {
			s.logout("QUIT") // a 554 server waits for it; its answer says nothing more
		}
		return err
	}
	s.goodbye("QUIT", func() error {
		_, err := s.readSMTP()
		return err
	})
	return nil
}

func greetSieve(s *session) error {
	if _, err := s.sieveGreeting(); err != nil {
		return err
	}
	s.goodbye("LOGOUT", func() error {
		_, err := s.readSieveResponse()
		return err
	})
	return nil
}

// goodbye sends line and reads the server's answer with answer, within
// the session's deadline. The verdict is made by then: a missing, late or
// odd answer does not fail the check (the server may close at once, or
// a busy one answer late), the transcript says what happened. Reading the
// answer rather than closing at once lets the server finish its side
// first, so it never writes into a connection we reset.
func (s *session) goodbye(line string, answer func() error) {
	start := time.Now()
	if !s.sendGoodbye(line) {
		return
	}
	if err := answer(); err != nil {
		s.note("-- ", "no answer to the goodbye (the check passes anyway): "+s.quoted(err.Error()))
	}
	s.step("logout", start)
}

// logout ends a deep check, passed or failed, with the protocol's
// goodbye and does not wait for the answer: the verdict is made, and a
// slow server must not delay it. Each deep check calls it last, whatever
// its conversation returned, so a server that refused CAPA, EHLO, STARTTLS
// or a login sees a client that logged out, not one that vanished.
func (s *session) logout(line string) {
	start := time.Now()
	if s.sendGoodbye(line) {
		s.step("logout", start)
	}
}

// sendGoodbye is the one place a goodbye is written (connect-only and
// deep checks alike). It marks the verdict's time, so neither the check's
// outcome nor its latency depends on the goodbye, and sends line only
// while the server can still read a command: not after a timeout, a
// closed or reset connection, a STARTTLS handshake that did not finish,
// or the server's own farewell (IMAP or ManageSieve BYE, SMTP 421). The
// write keeps to the session's deadline, which is already set on the
// connection. It reports whether line was sent.
func (s *session) sendGoodbye(line string) bool {
	// The check's Duration (its latency) ends here: an answer that comes
	// late or never says nothing about the server's health.
	s.res.verdictAt = time.Now()
	if s.unusable {
		s.note("-- ", "no goodbye: the server cannot read a command any more")
		return false
	}
	if err := s.writeLine(line); err != nil {
		s.note("-- ", "goodbye not sent: "+escapeControl(err.Error()))
		return false
	}
	return true
}

// serverClosing records the server's own farewell (IMAP or ManageSieve
// BYE, SMTP 421): it closes the connection now and reads no goodbye.
func (s *session) serverClosing() { s.unusable = true }

// saslAbandoned records a SASL challenge the check leaves unanswered (one
// more than the mechanism has responses for): the server now waits for a
// client response, and would read a goodbye as one ("QUIT" is even valid
// base64), a garbled login attempt rather than a logout.
func (s *session) saslAbandoned() { s.unusable = true }

// connectDeadline is when a connect-only check must end: connect_timeout
// after it began, plus tls_timeout with implicit TLS, the budget that
// config validation holds within connect_interval. The greeting and the
// goodbye get what the dial and handshake left of it.
func connectDeadline(t *Target, start time.Time) time.Time {
	d := orDefault(t.ConnectTimeout)
	if t.implicitTLS() {
		d += orDefault(t.TLSTimeout)
	}
	return start.Add(d)
}
