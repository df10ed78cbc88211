package luapattern

import (
	"fmt"
	"strings"
)

// CheckEvery is how many steps (a byte compared, an item tried, a
// backtrack) the matcher takes between two calls of its check function.
const CheckEvery = 1024

// Matcher runs compiled patterns. It is not safe for concurrent use; one
// Matcher may run many patterns one after the other, and keeps the
// captures of its last successful match.
type Matcher struct {
	// Check, when set, is called every CheckEvery steps; a non-nil error
	// stops the match, and Find returns it wrapped.
	Check func() error

	steps int
	stack []choice
	caps  []span
}

type span struct {
	start, end int
	position   bool
}

// choice is a point to come back to when the rest of the pattern fails:
// a "*"/"+" run to shorten, a "-" run to extend, a "?" to skip.
type choice struct {
	ip  int // the quantified item
	pos int // qStar/qPlus: where the run starts; qLazy: where it ends now; qOpt: where to go on without it
	n   int // qStar/qPlus: the run's length now
	min int
}

// tick counts n steps and runs the check when due.
func (m *Matcher) tick(n int) error {
	m.steps += n
	if m.steps < CheckEvery {
		return nil
	}
	m.steps = 0
	if m.Check == nil {
		return nil
	}
	if err := m.Check(); err != nil {
		return fmt.Errorf("pattern matching stopped: %w", err)
	}
	return nil
}

// Find returns the first match of p in s at or after byte offset init
// (0 ≤ init ≤ len(s)); start is -1 when there is none. An anchored
// pattern is tried at init only.
func (m *Matcher) Find(p *Pattern, s string, init int) (start, end int, err error) {
	if init < 0 || init > len(s) {
		return -1, -1, nil
	}
	if len(m.caps) < p.captures {
		m.caps = make([]span, p.captures)
	}
	if p.plain {
		if p.anchored {
			if strings.HasPrefix(s[init:], p.literal) {
				return init, init + len(p.literal), nil
			}
			return -1, -1, nil
		}
		if i := strings.Index(s[init:], p.literal); i >= 0 {
			return init + i, init + i + len(p.literal), nil
		}
		return -1, -1, nil
	}
	lead := p.lead
	for pos := init; pos <= len(s); pos++ {
		if lead >= 0 {
			i := strings.IndexByte(s[pos:], byte(lead))
			if i < 0 {
				return -1, -1, nil
			}
			if err := m.tick(1 + i/64); err != nil {
				return -1, -1, err
			}
			pos += i
		}
		e, ok, err := m.matchAt(p, s, pos)
		if err != nil {
			return -1, -1, err
		}
		if ok {
			return pos, e, nil
		}
		if p.anchored {
			break
		}
	}
	return -1, -1, nil
}

// Capture returns capture i (0-based) of the last successful Find: its
// byte range, or for a position capture ("()") start == end == the
// position.
func (m *Matcher) Capture(i int) (start, end int, position bool) {
	c := m.caps[i]
	return c.start, c.end, c.position
}

// matchAt tries p at s[pos:] only. Captures need no undoing on
// backtracking: a capture is written only by its own "(" and ")" items,
// and going back to a choice re-runs every item after it before anything
// reads what those items wrote.
func (m *Matcher) matchAt(p *Pattern, s string, pos int) (int, bool, error) {
	items := p.items
	m.stack = m.stack[:0]
	ip := 0
	for {
		if ip == len(items) {
			return pos, true, nil
		}
		if err := m.tick(1); err != nil {
			return 0, false, err
		}
		it := &items[ip]
		ok := true
		switch it.kind {
		case itemClass:
			switch it.q {
			case qOne:
				ok = pos < len(s) && it.set.has(s[pos])
				if ok {
					pos++
				}
			case qOpt:
				if pos < len(s) && it.set.has(s[pos]) {
					m.stack = append(m.stack, choice{ip: ip, pos: pos})
					pos++
				}
			case qStar, qPlus:
				n, err := m.run(it.set, s, pos)
				if err != nil {
					return 0, false, err
				}
				least := 0
				if it.q == qPlus {
					least = 1
				}
				ok = n >= least
				if n > least {
					m.stack = append(m.stack, choice{ip: ip, pos: pos, n: n, min: least})
				}
				pos += n
			case qLazy:
				m.stack = append(m.stack, choice{ip: ip, pos: pos})
			}
		case itemOpen:
			m.caps[it.capture] = span{start: pos, end: -1}
		case itemPosition:
			m.caps[it.capture] = span{start: pos, end: pos, position: true}
		case itemClose:
			m.caps[it.capture].end = pos
		case itemBackref:
			c := m.caps[it.capture]
			// As in Lua 5.1, a position capture never matches as "%n".
			n := c.end - c.start
			ok = !c.position && len(s)-pos >= n && s[pos:pos+n] == s[c.start:c.end]
			if ok {
				pos += n
				if err := m.tick(n / 16); err != nil {
					return 0, false, err
				}
			}
		case itemBalance:
			end, err := m.balance(it.open, it.close, s, pos)
			if err != nil {
				return 0, false, err
			}
			ok = end >= 0
			pos = end
		case itemFrontier:
			var prev, next byte
			if pos > 0 {
				prev = s[pos-1]
			}
			if pos < len(s) {
				next = s[pos]
			}
			ok = !it.set.has(prev) && it.set.has(next)
		case itemEnd:
			ok = pos == len(s)
		}
		if ok {
			ip++
			continue
		}
		var found bool
		if ip, pos, found = m.backtrack(items, s); !found {
			return 0, false, nil
		}
	}
}

// backtrack resumes at the latest choice that has an alternative left.
func (m *Matcher) backtrack(items []item, s string) (ip, pos int, ok bool) {
	for len(m.stack) > 0 {
		top := len(m.stack) - 1
		c := &m.stack[top]
		switch items[c.ip].q {
		case qStar, qPlus:
			c.n--
			ip, pos = c.ip+1, c.pos+c.n
			if c.n == c.min {
				m.stack = m.stack[:top]
			}
			return ip, pos, true
		case qLazy:
			if c.pos < len(s) && items[c.ip].set.has(s[c.pos]) {
				c.pos++
				return c.ip + 1, c.pos, true
			}
		case qOpt:
			m.stack = m.stack[:top]
			return c.ip + 1, c.pos, true
		}
		m.stack = m.stack[:top]
	}
	return 0, 0, false
}

// run is the length of the longest run of set's bytes at s[pos:].
func (m *Matcher) run(set *byteSet, s string, pos int) (int, error) {
	n := 0
	for pos+n < len(s) && set.has(s[pos+n]) {
		n++
		if n%CheckEvery == 0 {
			if err := m.tick(CheckEvery); err != nil {
				return 0, err
			}
		}
	}
	return n, m.tick(n % CheckEvery)
}

// balance is %bxy at s[pos:]: the end of the shortest prefix that starts
// with open and in which close balances open, or -1.
func (m *Matcher) balance(open, close byte, s string, pos int) (int, error) {
	if pos >= len(s) || s[pos] != open {
		return -1, nil
	}
	depth := 1
	for j := pos + 1; j < len(s); j++ {
		if (j-pos)%CheckEvery == 0 {
			if err := m.tick(CheckEvery); err != nil {
				return -1, err
			}
		}
		switch s[j] {
		case close:
			if depth--; depth == 0 {
				return j + 1, nil
			}
		case open:
			depth++
		}
	}
	return -1, nil
}
