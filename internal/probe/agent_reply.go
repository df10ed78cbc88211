package probe

import (
	"strings"
	"unicode/utf8"
)

// MaxAgentLine bounds the line an agent may answer, its CR or LF not
// counted: a longer line is no reply (AgentErrLong).
const MaxAgentLine = 512

// maxAgentDescription bounds the description after '#' as kept and shown.
const maxAgentDescription = 200

// maxAgentPercent bounds a weight percentage: beyond it no configured
// weight stays within MaxWeight anyway, and six digits cannot overflow.
const maxAgentPercent = 999999

// AgentHealth is the operational word of an agent reply.
type AgentHealth string

const (
	AgentUp      AgentHealth = "up"
	AgentDown    AgentHealth = "down"
	AgentFail    AgentHealth = "fail"
	AgentStopped AgentHealth = "stopped"
)

// AgentAdmin is the administrative word of an agent reply.
type AgentAdmin string

const (
	AgentReady AgentAdmin = "ready"
	AgentDrain AgentAdmin = "drain"
	AgentMaint AgentAdmin = "maint"
)

// AgentReply is one parsed agent line, HAProxy's agent-check grammar:
// words separated by spaces, tabs or commas, in any order, case-insensitive.
// A category the line does not mention is left as it was by whoever
// applies the reply (zero Health or Admin, -1 WeightPercent or MaxConn).
// When a category appears more than once the last word wins, as in
// HAProxy ("up down" is down, "drain ready" ready).
type AgentReply struct {
	Health AgentHealth // "", up, down, fail, stopped
	Admin  AgentAdmin  // "", ready, drain, maint
	// WeightPercent is the last "NN%" word: the share of the configured
	// weight, 0..maxAgentPercent; -1 when none.
	WeightPercent int
	// MaxConn is the last "maxconn:N" word; -1 when none.
	MaxConn int
	// Description is what follows a word starting with '#', blanks
	// trimmed, control characters and invalid UTF-8 replaced, at most
	// maxAgentDescription bytes; "" when none.
	Description string
	// Unknown is the first word that is none of the above, sanitised as
	// Description (HAProxy reports the first bad keyword too); the other
	// words still apply.
	Unknown string
	// Line is the whole line, sanitised (for the status API and logs).
	Line string
}

// Empty reports a reply that changes nothing.
func (r AgentReply) Empty() bool {
	return r.Health == "" && r.Admin == "" && r.WeightPercent < 0 && r.MaxConn < 0
}

// ParseAgentReply parses one agent line (without its CR or LF). It never
// fails: words it does not know are ignored (the first is kept in
// Unknown), as HAProxy does, so an agent that adds a word backline does not
// know still drains or weights the server. A "#" inside a word does not
// start the description ("down#x" is an unknown word).
func ParseAgentReply(line string) AgentReply {
	return parseAgentReply(line, func(s string) string { return s })
}

// parseAgentReply parses line; the texts it keeps to show (Line,
// Description, Unknown) pass through shown first, on the raw text before
// they are sanitised and cut, so a mask sees what the agent sent.
func parseAgentReply(line string, shown func(string) string) AgentReply {
	r := AgentReply{WeightPercent: -1, MaxConn: -1, Line: SanitizeAgentText(shown(line), MaxAgentLine)}
	rest := line
	for rest != "" {
		c := rest[0]
		if isAgentSeparator(c) {
			rest = rest[1:]
			continue
		}
		if c == '#' {
			r.Description = SanitizeAgentText(shown(strings.TrimLeft(rest[1:], " \t")), maxAgentDescription)
			break
		}
		end := strings.IndexFunc(rest, func(r rune) bool { return r < utf8.RuneSelf && isAgentSeparator(byte(r)) })
		if end < 0 {
			end = len(rest)
		}
		word := rest[:end]
		rest = rest[end:]
		if !r.apply(word) && r.Unknown == "" {
			r.Unknown = SanitizeAgentText(shown(word), maxAgentDescription)
		}
	}
	return r
}

func isAgentSeparator(c byte) bool { return c == ' ' || c == '\t' || c == ',' }

// apply sets the field word names; false for a word it does not know.
func (r *AgentReply) apply(word string) bool {
	switch strings.ToLower(word) {
	case "up":
		r.Health = AgentUp
	case "down":
		r.Health = AgentDown
	case "fail":
		r.Health = AgentFail
	case "stopped":
		r.Health = AgentStopped
	case "ready":
		r.Admin = AgentReady
	case "drain":
		r.Admin = AgentDrain
	case "maint":
		r.Admin = AgentMaint
	default:
		if digits, ok := strings.CutSuffix(word, "%"); ok {
			n, ok := agentNumber(digits)
			if ok {
				r.WeightPercent = n
			}
			return ok
		}
		if len(word) > len("maxconn:") && strings.EqualFold(word[:len("maxconn:")], "maxconn:") {
			n, ok := agentNumber(word[len("maxconn:"):])
			if ok {
				r.MaxConn = n
			}
			return ok
		}
		return false
	}
	return true
}

// agentNumber parses 1 to 6 decimal digits (no sign, no spaces).
func agentNumber(s string) (int, bool) {
	if s == "" || len(s) > 6 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, n <= maxAgentPercent
}

// SanitizeAgentText makes agent text safe to show and log: invalid UTF-8
// and control characters (C0, DEL, C1) become '?', and the result is cut at
// limit bytes on a rune boundary, "…" marking the cut.
func SanitizeAgentText(s string, limit int) string {
	clean := func(r rune) bool { return r < 0x20 || (r >= 0x7f && r <= 0x9f) || r == utf8.RuneError }
	if strings.ContainsFunc(s, clean) || !utf8.ValidString(s) {
		s = strings.Map(func(r rune) rune {
			if clean(r) {
				return '?'
			}
			return r
		}, strings.ToValidUTF8(s, "?"))
	}
	if len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}
