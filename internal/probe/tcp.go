package probe

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/backline/backline/internal/config"
)

// TCPStep is one step of a tcp check (config.TCPStep, decoded): Send
// bytes, or one line that must contain Expect or match Regexp.
type TCPStep struct {
	Send []byte
	// Secret: the transcript shows "<redacted>" for Send, and the value
	// is scrubbed from every server line a transcript or error quotes.
	Secret bool
	Expect []byte
	Regexp *regexp.Regexp
	// MaxBytes bounds the line an expect step reads (without its LF).
	MaxBytes int
}

// tcpSteps converts validated config steps; a step validation did not
// see (Lua, tools) is decoded and compiled here. Errors name the step,
// never a value.
func tcpSteps(in []config.TCPStep) ([]TCPStep, error) {
	out := make([]TCPStep, 0, len(in))
	for i, c := range in {
		if n := countSet(c.Send, c.Expect, c.ExpectRegex); n > 1 {
			// Decoding Send+Expect as one would send the expected text.
			return nil, fmt.Errorf("tcp_steps[%d]: has more than one of send, expect and expect_regex", i)
		}
		st := TCPStep{Secret: c.Secret, Regexp: c.Regexp, MaxBytes: int(c.MaxBytes)}
		if st.MaxBytes <= 0 || st.MaxBytes > maxLine {
			st.MaxBytes = config.DefaultTCPExpectMaxBytes
		}
		data := c.Data
		if data == nil && (c.Send != "" || c.Expect != "") {
			var err error
			if data, err = config.DecodeEscapes(c.Send + c.Expect); err != nil {
				return nil, fmt.Errorf("tcp_steps[%d]: %w", i, err)
			}
		}
		switch {
		case c.Send != "":
			st.Send = data
		case c.Expect != "":
			st.Expect = data
		case c.ExpectRegex != "":
			if st.Regexp == nil {
				re, err := regexp.Compile(c.ExpectRegex)
				if err != nil {
					return nil, fmt.Errorf("tcp_steps[%d].expect_regex: %w", i, err)
				}
				st.Regexp = re
			}
		default:
			return nil, fmt.Errorf("tcp_steps[%d]: needs one of send, expect or expect_regex", i)
		}
		out = append(out, st)
	}
	return out, nil
}

func countSet(values ...string) int {
	n := 0
	for _, v := range values {
		if v != "" {
			n++
		}
	}
	return n
}

// tcpSecretForms are the forms of the secret send values a server could
// echo: the value as sent, without its line end, each of its lines, and
// each word of four bytes or more (a server that quotes the arguments of
// a command it refused, as Redis does for an unknown one, echoes the
// password alone), all also as a transcript writes them (control
// characters escaped). Longest first: scrub replaces in order, and a
// shorter form must not cut a longer one apart.
func tcpSecretForms(steps []TCPStep) []string {
	var out []string
	add := func(v string) {
		if v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	for _, st := range steps {
		if !st.Secret {
			continue
		}
		raw := string(st.Send)
		forms := sendLineForms(raw)
		words := 0
		for _, word := range strings.Fields(raw) {
			if len(word) >= minSecretWord && words < maxSecretWords {
				forms = append(forms, word)
				words++
			}
		}
		for _, v := range forms {
			add(v)
			add(escapeControl(v))
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// sendLineForms are the forms of a secret send value that every redaction
// withholds (the check's scrub and Target.Secrets): the value as sent,
// without its line end, and each of its lines.
func sendLineForms(raw string) []string {
	forms := []string{raw, strings.TrimRight(raw, "\r\n")}
	for _, line := range strings.Split(raw, "\n") {
		forms = append(forms, strings.TrimSuffix(line, "\r"))
	}
	return forms
}

// minSecretWord is the shortest word of a secret value withheld on its
// own: shorter ones ("3" in "HELLO 3 AUTH …") would blank out unrelated
// parts of every line while hardly narrowing a guess.
const minSecretWord = 4

// maxSecretWords bounds the words of one secret value withheld on their
// own: every transcript line is searched for each (a command and its
// credential are a few words; a 64 KiB value of thousands would cost
// that many searches a line).
const maxSecretWords = 32

// checkTCP runs a tcp target's steps in order on the connection the
// connect phase left; the first failing step ends the check. There is no
// goodbye: a step list that wants one sends it (QUIT\r\n) itself.
func checkTCP(s *session) error {
	if len(s.target.TCPSteps) == 0 {
		return configErr("tcp target %s has no tcp_steps for its deep check (list at least one step, or check it connect-only)", s.target.Address())
	}
	t := s.target
	if hasSecretStep(t.TCPSteps) && !s.isTLS() && !(t.AllowPlaintextAuth && config.IsLoopbackHost(t.Host)) {
		// Refused before the first step: the server sees no half of it.
		return configErr("refusing to send a secret tcp_steps value to %s without TLS (set tls_mode: implicit)", t.Address())
	}
	for i, st := range t.TCPSteps {
		var err error
		if st.Send != nil {
			err = s.tcpSend(i, st)
		} else {
			err = s.tcpExpect(i, st)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func hasSecretStep(steps []TCPStep) bool {
	for _, st := range steps {
		if st.Secret {
			return true
		}
	}
	return false
}

func (s *session) tcpSend(i int, st TCPStep) error {
	start := time.Now()
	shown := escapeControl(string(st.Send))
	if st.Secret {
		shown = redacted
	}
	s.note("C: ", shown)
	if _, err := s.conn.Write(st.Send); err != nil {
		s.unusable = true
		return ioFailed(err, "TCP tcp_steps[%d] send to %s", i, s.target.Address())
	}
	s.step("send", start)
	return nil
}

func (s *session) tcpExpect(i int, st TCPStep) error {
	start := time.Now()
	line, err := s.readBoundedLine(st.MaxBytes)
	if err != nil {
		return ioFailed(err, "TCP tcp_steps[%d] expect from %s", i, s.target.Address())
	}
	if st.Regexp != nil {
		if !st.Regexp.MatchString(line) {
			return protocolErr("TCP tcp_steps[%d] expected a line matching %q, response: %s", i, s.scrub(st.Regexp.String()), s.quoted(line))
		}
	} else if !strings.Contains(line, string(st.Expect)) {
		// The expected text may hold the secret (a server expected to
		// echo it): scrubbed like the line.
		return protocolErr("TCP tcp_steps[%d] expected a line containing %q, response: %s", i, escapeControl(s.scrub(string(st.Expect))), s.quoted(line))
	}
	s.step("expect", start)
	return nil
}

// readBoundedLine reads one line of at most limit bytes before its line
// end (LF or CR LF) and returns it without the line end. A hostile server
// cannot make it hold more than limit plus one buffer, wait past the deep
// deadline (the connection's), or put raw control characters into the
// transcript.
func (s *session) readBoundedLine(limit int) (string, error) {
	var buf []byte
	for {
		chunk, err := s.r.ReadSlice('\n')
		buf = append(buf, chunk...)
		if err == nil {
			line := strings.TrimSuffix(strings.TrimSuffix(string(buf), "\n"), "\r")
			if len(line) > limit {
				return "", s.lineTooLong(buf, limit)
			}
			s.note("S: ", escapeControl(line))
			return line, nil
		}
		// +1: the CR of a CR LF may be the last byte so far.
		if len(buf) > limit+1 {
			return "", s.lineTooLong(buf, limit)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if len(buf) > 0 {
			s.note("S: ", escapeControl(s.withholdSecretStart(string(buf))))
		}
		if errors.Is(err, io.EOF) {
			if len(buf) > 0 {
				return "", protocolErr("connection closed by server after %d bytes without a line end", len(buf))
			}
			return "", protocolErr("connection closed by server")
		}
		return "", err
	}
}

// lineTooLong notes the first limit bytes of an overlong line and fails.
func (s *session) lineTooLong(buf []byte, limit int) error {
	s.note("S: ", escapeControl(s.clipScrubbed(string(buf), limit)))
	// The rest of the line may still be coming: the server cannot read a
	// goodbye in the middle of it.
	s.unusable = true
	return protocolErr("server sent more than %d bytes without a line end (max_bytes)", limit)
}
