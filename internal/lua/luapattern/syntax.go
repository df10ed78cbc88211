// Package luapattern is backline's own matcher for Lua 5.1 patterns (the
// manual's §5.4.1), written so that a match can be stopped: it counts its
// steps and asks a check function every CheckEvery steps whether to go on.
// gopher-lua's engine cannot be interrupted, and a backtracking pattern
// such as ".-.-.-.-.-b" on a long subject runs for hours inside one native
// call. The matcher does not recurse: backtracking uses an explicit stack
// that holds at most one entry per pattern item, so no pattern can
// overflow the Go stack.
package luapattern

import "strings"

// MaxCaptures is Lua's LUA_MAXCAPTURES.
const MaxCaptures = 32

// Error is a malformed pattern; Msg is Lua's text for it.
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

func errorf(msg string) error { return &Error{Msg: msg} }

type itemKind uint8

const (
	itemClass    itemKind = iota // one byte out of set, with a quantifier
	itemOpen                     // "(": capture starts
	itemPosition                 // "()": position capture
	itemClose                    // ")": capture ends
	itemBackref                  // "%1".."%9"
	itemBalance                  // "%bxy"
	itemFrontier                 // "%f[set]"
	itemEnd                      // "$" as the pattern's last character
)

type quantifier uint8

const (
	qOne  quantifier = iota
	qStar            // "*": longest run, then shorter
	qPlus            // "+": as "*", at least one
	qLazy            // "-": shortest run, then longer
	qOpt             // "?": one if possible, else none
)

type item struct {
	set     *byteSet
	kind    itemKind
	q       quantifier
	capture uint8 // capture index (itemOpen, itemPosition, itemClose, itemBackref)
	open    byte  // %b's two characters
	close   byte
}

// ItemSize is roughly what one compiled item (and its backtracking
// entry) costs; callers charge len(pattern)*ItemSize before compiling.
const ItemSize = 64

// Pattern is a compiled pattern.
type Pattern struct {
	items    []item
	anchored bool
	captures int
	// literal is the pattern's text when it has no special character, so
	// Find can use a plain substring search.
	literal string
	plain   bool
	// lead is the byte every match starts with, or -1: Find skips to it
	// instead of trying every position.
	lead int
}

// Captures is the number of captures ("()" included).
func (p *Pattern) Captures() int { return p.captures }

// Anchored reports a leading "^".
func (p *Pattern) Anchored() bool { return p.anchored }

// singletons are the sets of one byte each, shared by every pattern.
var singletons = func() *[256]byteSet {
	var s [256]byteSet
	for c := range s {
		s[c].add(byte(c))
	}
	return &s
}()

// Specials are the characters that make a pattern more than a plain
// string for string.find (Lua 5.1's list).
const Specials = "^$*+?.([%-"

// Compile parses pattern. With anchor set a leading "^" anchors the match
// at its start (string.find, match, gsub); string.gmatch passes false and
// "^" is then an ordinary character, as in Lua 5.1.
//
// Errors come at once, for the whole pattern: Lua 5.1 reports some only
// when the match reaches them ("invalid capture index", "unfinished
// capture"), so a malformed pattern that failed early on a subject gave
// nil there and an error here.
func Compile(pattern string, anchor bool) (*Pattern, error) {
	p := &Pattern{}
	i := 0
	if anchor && strings.HasPrefix(pattern, "^") {
		p.anchored = true
		i = 1
	}
	if !strings.ContainsAny(pattern[i:], Specials) {
		p.literal, p.plain = pattern[i:], true
	}
	var open []uint8  // captures opened and not yet closed
	var closed uint64 // bit n: capture n is complete
	p.items = make([]item, 0, min(len(pattern), 64))
	for i < len(pattern) {
		c := pattern[i]
		switch c {
		case '(':
			if p.captures >= MaxCaptures {
				return nil, errorf("too many captures")
			}
			n := uint8(p.captures)
			p.captures++
			if i+1 < len(pattern) && pattern[i+1] == ')' {
				p.items = append(p.items, item{kind: itemPosition, capture: n})
				closed |= 1 << n
				i += 2
				continue
			}
			p.items = append(p.items, item{kind: itemOpen, capture: n})
			open = append(open, n)
			i++
			continue
		case ')':
			if len(open) == 0 {
				return nil, errorf("invalid pattern capture")
			}
			n := open[len(open)-1]
			open = open[:len(open)-1]
			closed |= 1 << n
			p.items = append(p.items, item{kind: itemClose, capture: n})
			i++
			continue
		case '$':
			if i == len(pattern)-1 {
				p.items = append(p.items, item{kind: itemEnd})
				i++
				continue
			}
		case '%':
			if i+1 == len(pattern) {
				return nil, errorf("malformed pattern (ends with '%')")
			}
			switch d := pattern[i+1]; {
			case d == 'b':
				if i+3 >= len(pattern) {
					return nil, errorf("malformed pattern (missing arguments to '%b')")
				}
				p.items = append(p.items, item{kind: itemBalance, open: pattern[i+2], close: pattern[i+3]})
				i += 4
				continue
			case d == 'f':
				i += 2
				if i == len(pattern) || pattern[i] != '[' {
					return nil, errorf("missing '[' after '%f' in pattern")
				}
				set, next, err := parseSet(pattern, i)
				if err != nil {
					return nil, err
				}
				p.items = append(p.items, item{kind: itemFrontier, set: set})
				i = next
				continue
			case d >= '0' && d <= '9':
				n := int(d) - '1'
				if n < 0 || n >= p.captures || closed&(1<<n) == 0 {
					return nil, errorf("invalid capture index")
				}
				p.items = append(p.items, item{kind: itemBackref, capture: uint8(n)})
				i += 2
				continue
			}
		}
		set, next, err := singleClass(pattern, i)
		if err != nil {
			return nil, err
		}
		it := item{kind: itemClass, set: set}
		if next < len(pattern) {
			switch pattern[next] {
			case '*':
				it.q = qStar
			case '+':
				it.q = qPlus
			case '-':
				it.q = qLazy
			case '?':
				it.q = qOpt
			}
			if it.q != qOne {
				next++
			}
		}
		p.items = append(p.items, it)
		i = next
	}
	if len(open) > 0 {
		return nil, errorf("unfinished capture")
	}
	p.lead = -1
	if len(p.items) > 0 && !p.anchored {
		if it := p.items[0]; it.kind == itemClass && (it.q == qOne || it.q == qPlus) {
			if c, ok := it.set.only(); ok {
				p.lead = int(c)
			}
		}
	}
	return p, nil
}

// singleClass parses the class at pattern[i]: ".", "%x", "[set]" or one
// literal byte. It returns the index after it.
func singleClass(pattern string, i int) (*byteSet, int, error) {
	switch c := pattern[i]; c {
	case '.':
		return anyByte, i + 1, nil
	case '%':
		// Compile checked that a character follows.
		return escapedClass(pattern[i+1]), i + 2, nil
	case '[':
		return parseSet(pattern, i)
	default:
		return &singletons[c], i + 1, nil
	}
}

// parseSet parses "[...]" or "[^...]" starting at pattern[i] == '['. As
// in Lua 5.1 the end of the set is found first: the first character of
// the set is a member even when it is "]" ("[]]" is the set of "]"), and
// "%" escapes whatever follows it ("[%]]"). Then, inside those bounds,
// "%x" is a class or the character x, and "a-z" is a range unless the "-"
// is followed by the closing "]" (so "[0-%]x]" holds the range "0"-"%",
// "]" and "x").
func parseSet(pattern string, i int) (*byteSet, int, error) {
	begin := i + 1
	negate := begin < len(pattern) && pattern[begin] == '^'
	if negate {
		begin++
	}
	end := begin
	for first := true; first || pattern[end] != ']'; first = false {
		if end >= len(pattern) {
			return nil, 0, errorf("malformed pattern (missing ']')")
		}
		if pattern[end] == '%' {
			end++
		}
		end++
		if end >= len(pattern) {
			return nil, 0, errorf("malformed pattern (missing ']')")
		}
	}
	set := new(byteSet)
	for j := begin; j < end; {
		c := pattern[j]
		switch {
		case c == '%':
			set.union(escapedClass(pattern[j+1]))
			j += 2
		case pattern[j+1] == '-' && j+2 < end:
			set.addRange(c, pattern[j+2])
			j += 3
		default:
			set.add(c)
			j++
		}
	}
	if negate {
		set.invert()
	}
	return set, end + 1, nil
}
