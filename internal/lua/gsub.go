package lua

import (
	"strings"

	glua "github.com/yuin/gopher-lua"

	"github.com/backline/backline/internal/lua/luapattern"
)

// gsub is string.gsub with Lua 5.1's rules: after a non-empty match the
// search goes on where it ended, after an empty one a byte further; an
// anchored pattern replaces at most once; n (default: no limit) bounds
// the replacements. The result is built once, linearly, and charged
// against the run's budget as it grows.
func (v *vm) gsub(L *glua.LState) int {
	src := L.CheckString(1)
	pattern := L.CheckString(2)
	repl := L.Get(3)
	switch repl.(type) {
	case glua.LString, glua.LNumber, *glua.LTable, *glua.LFunction:
	default:
		L.ArgError(3, "string/function/table expected")
	}
	limit := L.OptInt(4, len(src)+1)
	p := v.compile(L, pattern, true)
	m := v.newMatcher()

	var out strings.Builder
	emit := func(s string) {
		if n := int64(out.Len()) + int64(len(s)); n > 4096 {
			v.charge(L, n)
		}
		out.WriteString(s)
	}
	pos, last, count := 0, 0, 0
	for count < limit {
		start, end := search(L, m, p, src, pos)
		if start < 0 {
			break
		}
		count++
		emit(src[last:start])
		emit(v.replacement(L, m, p, src, start, end, repl))
		last = end
		switch {
		case end > start:
			pos = end
		case start < len(src):
			pos = start + 1
		default:
			pos = len(src) + 1
		}
		if p.Anchored() || pos > len(src) {
			break
		}
	}
	if count == 0 {
		L.Push(glua.LString(src))
		L.Push(glua.LNumber(0))
		return 2
	}
	emit(src[last:])
	L.Push(glua.LString(out.String()))
	L.Push(glua.LNumber(count))
	return 2
}

// replacement is what one match becomes. A table or function giving
// false or nil keeps the match as it was.
func (v *vm) replacement(L *glua.LState, m *luapattern.Matcher, p *luapattern.Pattern, src string, start, end int, repl glua.LValue) string {
	whole := src[start:end]
	var value glua.LValue
	switch r := repl.(type) {
	case glua.LString:
		return expandReplacement(L, m, p, src, whole, string(r))
	case glua.LNumber:
		return expandReplacement(L, m, p, src, whole, r.String())
	case *glua.LTable:
		key := glua.LValue(glua.LString(whole))
		if p.Captures() > 0 {
			key = captureValue(m, src, 0)
		}
		value = L.GetTable(r, key)
	case *glua.LFunction:
		L.Push(r)
		n := pushCaptures(L, m, p, src, start, end, true)
		L.Call(n, 1)
		value = L.Get(-1)
		L.Pop(1)
	}
	switch x := value.(type) {
	case glua.LString:
		return string(x)
	case glua.LNumber:
		return x.String()
	}
	if glua.LVIsFalse(value) {
		return whole
	}
	L.RaiseError("invalid replacement value (a %s)", value.Type().String())
	return ""
}

// expandReplacement applies %0 (the match), %1..%9 (captures; %1 is the
// match when there are none) and %% to a replacement string. Any other
// "%" is an error, as in Lua 5.2: Lua 5.1 dropped the "%" silently and
// gopher-lua kept it, and either hides a mistake.
func expandReplacement(L *glua.LState, m *luapattern.Matcher, p *luapattern.Pattern, src, whole, repl string) string {
	if strings.IndexByte(repl, '%') < 0 {
		return repl
	}
	var b strings.Builder
	for i := 0; i < len(repl); i++ {
		c := repl[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		i++
		var d byte
		if i < len(repl) {
			d = repl[i]
		}
		switch {
		case d == '%':
			b.WriteByte('%')
		case d == '0', d == '1' && p.Captures() == 0:
			b.WriteString(whole)
		case d >= '1' && d <= '9':
			n := int(d - '1')
			if n >= p.Captures() {
				L.RaiseError("%s", "invalid capture index")
			}
			switch x := captureValue(m, src, n).(type) {
			case glua.LString:
				b.WriteString(string(x))
			case glua.LNumber:
				b.WriteString(x.String())
			}
		default:
			// Kept as written, as gopher-lua (and so Nauthilus) does: a
			// script that ran there must not start failing every request.
			b.WriteByte('%')
			if i < len(repl) {
				b.WriteByte(d)
			}
		}
	}
	return b.String()
}
