package lua

import (
	"errors"
	"fmt"
	"html"
	"strings"

	glua "github.com/yuin/gopher-lua"
)

// A Mustache renderer written from the mustache(5) manual, for the template
// module: variables ({{x}} escaped, {{{x}}} and {{&x}} raw, dotted names,
// {{.}}), sections and inverted sections over Lua values, comments, and
// standalone tag lines removed. Partials, lambdas and delimiter changes are
// not supported.
//
// Truthiness follows gopher-lua-libs, which hands Lua values to a Go
// Mustache library: nil, false, 0, "" and an empty table are empty.

type mustacheKind int

const (
	mText mustacheKind = iota
	mVar
	mRaw
	mSection
	mInverted
)

type mustacheNode struct {
	kind     mustacheKind
	text     string // text, or the tag's name
	children []mustacheNode
}

// maxMustacheDepth bounds section nesting (and so the renderer's recursion).
const maxMustacheDepth = 64

type mustacheParser struct {
	src  string
	pos  int
	line int
}

var errMustacheDepth = errors.New("sections nested too deeply")

func parseMustache(src string) ([]mustacheNode, error) {
	p := &mustacheParser{src: src, line: 1}
	nodes, closing, err := p.parse("", 0)
	if err != nil {
		return nil, err
	}
	if closing != "" {
		return nil, fmt.Errorf("line %d: unopened section close", p.line)
	}
	return nodes, nil
}

// parse reads nodes until the close tag of section (or the end when "").
func (p *mustacheParser) parse(section string, depth int) ([]mustacheNode, string, error) {
	if depth > maxMustacheDepth {
		return nil, "", errMustacheDepth
	}
	var nodes []mustacheNode
	for {
		open := strings.Index(p.src[p.pos:], "{{")
		if open < 0 {
			nodes = appendText(nodes, p.src[p.pos:])
			p.pos = len(p.src)
			if section != "" {
				return nil, "", fmt.Errorf("line %d: section not closed", p.line)
			}
			return nodes, "", nil
		}
		start := p.pos + open
		text := p.src[p.pos:start]
		closeTok, skip := "}}", 2
		if strings.HasPrefix(p.src[start:], "{{{") {
			closeTok, skip = "}}}", 3
		}
		end := strings.Index(p.src[start+skip:], closeTok)
		if end < 0 {
			return nil, "", fmt.Errorf("line %d: unclosed tag", p.line+strings.Count(text, "\n"))
		}
		tag := p.src[start+skip : start+skip+end]
		after := start + skip + end + len(closeTok)
		p.line += strings.Count(p.src[p.pos:after], "\n")
		sigil := byte(0)
		if skip == 3 {
			sigil = '{'
		} else if len(tag) > 0 && strings.IndexByte("#^/!&>=", tag[0]) >= 0 {
			sigil = tag[0]
			tag = tag[1:]
		}
		name := strings.TrimSpace(tag)
		// A section, close, comment tag alone on its line takes the line with it.
		if sigil == '#' || sigil == '^' || sigil == '/' || sigil == '!' {
			if lineStart, lineEnd, ok := standalone(p.src, start, after); ok {
				text = p.src[p.pos:lineStart]
				after = lineEnd
			}
		}
		nodes = appendText(nodes, text)
		p.pos = after
		switch sigil {
		case '!':
		case '>':
			return nil, "", fmt.Errorf("line %d: partials are not supported", p.line)
		case '=':
			return nil, "", fmt.Errorf("line %d: changing delimiters is not supported", p.line)
		case '/':
			if name != section {
				return nil, "", fmt.Errorf("line %d: section close does not match its open", p.line)
			}
			return nodes, name, nil
		case '#', '^':
			children, _, err := p.parse(name, depth+1)
			if err != nil {
				return nil, "", err
			}
			kind := mSection
			if sigil == '^' {
				kind = mInverted
			}
			nodes = append(nodes, mustacheNode{kind: kind, text: name, children: children})
		case '{', '&':
			nodes = append(nodes, mustacheNode{kind: mRaw, text: name})
		default:
			nodes = append(nodes, mustacheNode{kind: mVar, text: name})
		}
		if name == "" && sigil != '!' {
			return nil, "", fmt.Errorf("line %d: empty tag", p.line)
		}
	}
}

func appendText(nodes []mustacheNode, text string) []mustacheNode {
	if text == "" {
		return nodes
	}
	return append(nodes, mustacheNode{kind: mText, text: text})
}

// standalone reports whether the tag src[start:end] has only blanks around
// it on its line, and the line's bounds (end including the newline).
func standalone(src string, start, end int) (int, int, bool) {
	lineStart := strings.LastIndexByte(src[:start], '\n') + 1
	if strings.Trim(src[lineStart:start], " \t") != "" {
		return 0, 0, false
	}
	rest := src[end:]
	nl := strings.IndexByte(rest, '\n')
	tail := rest
	if nl >= 0 {
		tail = rest[:nl]
	}
	if strings.Trim(strings.TrimSuffix(tail, "\r"), " \t") != "" {
		return 0, 0, false
	}
	if nl < 0 {
		return lineStart, len(src), true
	}
	return lineStart, end + nl + 1, true
}

// mustacheRender writes nodes; check is called often and stops the render
// (the output size against the budget, the run's deadline).
type mustacheRender struct {
	out   strings.Builder
	stack []glua.LValue
	check func(size int) error
	steps int
}

func (m *mustacheRender) render(nodes []mustacheNode) error {
	for _, n := range nodes {
		if m.steps++; m.steps&255 == 0 {
			if err := m.check(m.out.Len()); err != nil {
				return err
			}
		}
		switch n.kind {
		case mText:
			if err := m.write(n.text, 1); err != nil {
				return err
			}
		case mVar:
			if err := m.write(mustacheText(m.lookup(n.text)), maxHTMLEscapeGrowth); err != nil {
				return err
			}
		case mRaw:
			if err := m.write(mustacheText(m.lookup(n.text)), 1); err != nil {
				return err
			}
		case mInverted:
			if mustacheEmpty(m.lookup(n.text)) {
				if err := m.render(n.children); err != nil {
					return err
				}
			}
		case mSection:
			v := m.lookup(n.text)
			if mustacheEmpty(v) {
				continue
			}
			items := []glua.LValue{v}
			if t, ok := v.(*glua.LTable); ok && t.Len() > 0 {
				items = items[:0]
				for i := 1; i <= t.Len(); i++ {
					items = append(items, t.RawGetInt(i))
				}
			}
			for _, item := range items {
				m.stack = append(m.stack, item)
				err := m.render(n.children)
				m.stack = m.stack[:len(m.stack)-1]
				if err != nil {
					return err
				}
				if err := m.check(m.out.Len()); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// maxHTMLEscapeGrowth is html.EscapeString's worst case: `"` becomes
// "&#34;", 5 bytes for 1.
const maxHTMLEscapeGrowth = 5

// write appends s (HTML-escaped when growth > 1), checking first the size
// the output will have at most: a value may be as large as the run's whole
// budget, so waiting for the next periodic check could build hundreds of
// them first.
func (m *mustacheRender) write(s string, growth int) error {
	if s == "" {
		return nil
	}
	if err := m.check(m.out.Len() + len(s)*growth); err != nil {
		return err
	}
	if growth > 1 {
		s = html.EscapeString(s)
	}
	m.out.WriteString(s)
	return nil
}

// lookup resolves a (dotted) name: the first part in the innermost context
// that has it, the rest inside that value.
func (m *mustacheRender) lookup(name string) glua.LValue {
	if name == "." {
		return m.stack[len(m.stack)-1]
	}
	parts := strings.Split(name, ".")
	var v glua.LValue = glua.LNil
	for i := len(m.stack) - 1; i >= 0; i-- {
		if t, ok := m.stack[i].(*glua.LTable); ok {
			if got := t.RawGetString(parts[0]); got != glua.LNil {
				v = got
				break
			}
		}
	}
	for _, part := range parts[1:] {
		t, ok := v.(*glua.LTable)
		if !ok {
			return glua.LNil
		}
		v = t.RawGetString(part)
	}
	return v
}

func mustacheEmpty(v glua.LValue) bool {
	switch x := v.(type) {
	case *glua.LNilType:
		return true
	case glua.LBool:
		return !bool(x)
	case glua.LNumber:
		return x == 0
	case glua.LString:
		return x == ""
	case *glua.LTable:
		k, _ := x.Next(glua.LNil)
		return k == glua.LNil
	}
	return false
}

// mustacheText is how a value prints: nil as "", tables and functions as
// nothing either (gopher-lua-libs printed Go's map syntax).
func mustacheText(v glua.LValue) string {
	switch x := v.(type) {
	case glua.LString:
		return string(x)
	case glua.LNumber, glua.LBool:
		return x.String()
	}
	return ""
}
