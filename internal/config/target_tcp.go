package config

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/backline/backline/internal/textutil"
)

// A tcp target checks a service backline has no protocol for (Redis,
// memcached, an LDAP or XMPP banner, a custom line protocol) with an
// ordered list of send and expect steps after the connect phase, as
// HAProxy's tcp-check send/expect, Traefik's TCP send/expect and the
// blackbox exporter's query_response do.

// TCPStep is one step of a tcp check: exactly one of Send, Expect and
// ExpectRegex.
type TCPStep struct {
	// Send is written as is, without a line end added: write "\r\n"
	// yourself. Backslash escapes (\r \n \t \0 \\ \xHH) are decoded, so a
	// single-quoted or plain YAML value works like a double-quoted one.
	Send string `yaml:"send"`
	// Expect passes when the next line the server sends (up to LF, CR
	// and LF removed) contains it; escapes as in Send.
	Expect string `yaml:"expect"`
	// ExpectRegex passes when the next line matches it (Go RE2 syntax;
	// anchor with ^ and $ to match the whole line).
	ExpectRegex string `yaml:"expect_regex"`
	// MaxBytes bounds the line an expect step reads: a longer one fails
	// the check. 0 (left out): DefaultTCPExpectMaxBytes.
	MaxBytes ByteSize `yaml:"max_bytes"`
	// Secret marks a send step whose value is a credential: transcripts
	// show "<redacted>" for it, and the value is withheld wherever a
	// server echoes it back (transcripts, errors, status).
	Secret bool `yaml:"secret"`

	// Data is Send or Expect with escapes decoded; Regexp is ExpectRegex
	// compiled. Filled in by validation.
	Data   []byte         `yaml:"-"`
	Regexp *regexp.Regexp `yaml:"-"`
}

const (
	// DefaultTCPExpectMaxBytes is max_bytes left out: real banners and
	// replies are a few hundred bytes.
	DefaultTCPExpectMaxBytes = 4 << 10
	// MaxTCPExpectMaxBytes is the largest max_bytes: the longest line any
	// check reads (probe.maxLine).
	MaxTCPExpectMaxBytes = 64 << 10
	// MaxTCPSteps bounds tcp_steps; a check is a short exchange.
	MaxTCPSteps = 64
	// maxTCPSendBytes bounds one send step's value.
	maxTCPSendBytes = 64 << 10
	// maxTCPRegex bounds an expect_regex pattern.
	maxTCPRegex = 4 << 10
)

// validateTCPCheck checks tcp_steps: only on protocol tcp, only with
// deep_check, each step one action with its escapes decoded and its
// regular expression compiled once here. No message quotes a send value.
func (v *validator) validateTCPCheck(key func(string) string, t *Target) {
	stepsPath := key("tcp_steps")
	if t.Protocol != ProtoTCP {
		if v.written[stepsPath] {
			v.add(stepsPath, "only applies to protocol tcp")
		}
		return
	}
	for _, k := range []string{"test_username", "test_password", "test_password_file"} {
		if v.written[key(k)] {
			v.add(key(k), "does not apply to protocol tcp (send a credential in a tcp_steps send step with secret: true)")
		}
	}
	if v.written[key("auth_mechanism")] {
		v.add(key("auth_mechanism"), "does not apply to protocol tcp")
	}
	switch {
	case len(t.TCPSteps) == 0 && t.DeepCheck:
		v.add(key("deep_check"), "a tcp target's deep check runs tcp_steps: list at least one step (or leave deep_check out for a connect-only check)")
	case len(t.TCPSteps) > 0 && !t.DeepCheck:
		// The connect-only check sends nothing: the steps would look
		// checked while nothing runs them.
		v.add(stepsPath, "only applies with deep_check (a connect-only check connects and closes)")
	}
	if len(t.TCPSteps) > MaxTCPSteps {
		// One error for the list, not one for each of its steps.
		v.add(stepsPath, "must have at most %d steps, got %d", MaxTCPSteps, len(t.TCPSteps))
		return
	}
	for i := range t.TCPSteps {
		v.validateTCPStep(fmt.Sprintf("%s[%d]", stepsPath, i), &t.TCPSteps[i])
	}
}

func (v *validator) validateTCPStep(path string, st *TCPStep) {
	key := func(k string) string { return path + "." + k }
	var actions []string
	for _, k := range []string{"send", "expect", "expect_regex"} {
		if v.written[key(k)] {
			actions = append(actions, k)
		}
	}
	if len(actions) != 1 {
		if len(actions) == 0 {
			v.add(path, "needs one of send, expect or expect_regex")
		} else {
			v.add(path, "has %s; a step does one thing (make one step of each)", strings.Join(actions, " and "))
		}
		return
	}
	action := actions[0]
	if st.Secret && action != "send" {
		v.add(key("secret"), "only applies to a send step")
	}
	if action == "send" {
		if v.written[key("max_bytes")] {
			v.add(key("max_bytes"), "only applies to an expect or expect_regex step")
		}
	} else {
		switch {
		case st.MaxBytes == 0 && !v.written[key("max_bytes")]:
			st.MaxBytes = DefaultTCPExpectMaxBytes
		case st.MaxBytes < 1 || st.MaxBytes > MaxTCPExpectMaxBytes:
			v.add(key("max_bytes"), "must be 1..%d bytes, got %d", MaxTCPExpectMaxBytes, st.MaxBytes)
		}
	}
	switch action {
	case "send":
		data, err := DecodeEscapes(st.Send)
		switch {
		case err != nil:
			v.add(key("send"), "%v", err) // offsets only: DecodeEscapes quotes no value
		case len(data) == 0:
			v.add(key("send"), "must not be empty (an unset ${VAR}?)")
		case len(data) > maxTCPSendBytes:
			v.add(key("send"), "must be at most %d bytes, got %d", maxTCPSendBytes, len(data))
		}
		st.Data = data
	case "expect":
		data, err := DecodeEscapes(st.Expect)
		switch {
		case err != nil:
			v.add(key("expect"), "%v", err)
		case len(data) == 0:
			v.add(key("expect"), "must not be empty (it would pass on any line)")
		case strings.ContainsAny(string(data), "\r\n"):
			v.add(key("expect"), "must not contain CR or LF: it is matched against one line without its line end")
		case int64(len(data)) > int64(st.MaxBytes) && st.MaxBytes > 0:
			v.add(key("expect"), "is %d bytes, longer than max_bytes %d: it could never match", len(data), st.MaxBytes)
		}
		st.Data = data
	case "expect_regex":
		if st.ExpectRegex == "" {
			v.add(key("expect_regex"), "must not be empty (it would pass on any line)")
			return
		}
		if len(st.ExpectRegex) > maxTCPRegex {
			v.add(key("expect_regex"), "must be at most %d bytes, got %d", maxTCPRegex, len(st.ExpectRegex))
			return
		}
		re, err := regexp.Compile(st.ExpectRegex)
		if err != nil {
			v.add(key("expect_regex"), "is not a valid regular expression (Go RE2 syntax): %v", err)
			return
		}
		st.Regexp = re
	}
}

// DecodeEscapes decodes the backslash escapes of a send or expect value:
// \r \n \t \0 \\ and \xHH (one byte). Any other backslash sequence is an
// error naming its offset, never the value (a send step may hold a
// credential). A value without backslashes comes back unchanged, so a
// YAML double-quoted string YAML already decoded is taken as it is.
func DecodeEscapes(s string) ([]byte, error) {
	if !strings.Contains(s, `\`) {
		return []byte(s), nil
	}
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		if i+1 >= len(s) {
			return nil, fmt.Errorf(`ends with a lone backslash at offset %d (write \\ for a backslash)`, i)
		}
		i++
		switch s[i] {
		case 'r':
			out = append(out, '\r')
		case 'n':
			out = append(out, '\n')
		case 't':
			out = append(out, '\t')
		case '0':
			out = append(out, 0)
		case '\\':
			out = append(out, '\\')
		case 'x':
			if i+2 >= len(s) || !textutil.IsHexDigit(s[i+1]) || !textutil.IsHexDigit(s[i+2]) {
				return nil, fmt.Errorf(`has \x without two hex digits at offset %d`, i-1)
			}
			out = append(out, textutil.HexDigitValue(s[i+1])<<4|textutil.HexDigitValue(s[i+2]))
			i += 2
		default:
			return nil, fmt.Errorf(`has an unknown escape at offset %d (use \r, \n, \t, \0, \\ or \xHH)`, i-1)
		}
	}
	return out, nil
}

// tcpEscapedKey is the key path of a value DecodeEscapes decodes after
// ${VAR} expansion.
var tcpEscapedKey = regexp.MustCompile(`\.tcp_steps\[[0-9]+\]\.(send|expect)$`)

// escapesDecodedLater tells the ${VAR} expansion that a variable's value
// at path must keep its backslashes literal: the escapes are the
// operator's, written around the ${VAR}, not the variable's.
func escapesDecodedLater(path string) bool { return tcpEscapedKey.MatchString(path) }

func hasSecretTCPStep(steps []TCPStep) bool {
	for _, st := range steps {
		if st.Secret {
			return true
		}
	}
	return false
}
