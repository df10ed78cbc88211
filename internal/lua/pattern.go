package lua

import (
	"strings"

	glua "github.com/yuin/gopher-lua"

	"github.com/backline/backline/internal/lua/luapattern"
)

// string.find, match, gmatch and gsub run on backline's own matcher
// (luapattern): gopher-lua's cannot be interrupted, so a backtracking
// pattern such as ".-.-.-.-.-b" on a long subject held a state for hours
// inside one native call. Ours asks patternCheck every 1024 steps and
// stops when the run's context is done; the run then ends as an ordinary
// timeout and its pool slot is free again. Semantics follow the Lua 5.1
// manual (§5.4.1); README.md lists where they differ from gopher-lua.

// installPatterns replaces the string library's pattern functions.
func (v *vm) installPatterns(str *glua.LTable) {
	L := v.L
	v.patternCheck = func() error {
		if v.run == nil {
			return nil
		}
		return v.run.ctx.Err()
	}
	str.RawSetString("find", L.NewFunction(func(L *glua.LState) int { return v.find(L, true) }))
	str.RawSetString("match", L.NewFunction(func(L *glua.LState) int { return v.find(L, false) }))
	str.RawSetString("gmatch", L.NewFunction(v.gmatch))
	str.RawSetString("gsub", L.NewFunction(v.gsub))
}

// compile compiles a pattern after charging what its items may take.
func (v *vm) compile(L *glua.LState, pattern string, anchor bool) *luapattern.Pattern {
	if len(pattern) > 256 {
		v.charge(L, mulSat(int64(len(pattern)), luapattern.ItemSize))
	}
	p, err := luapattern.Compile(pattern, anchor)
	if err != nil {
		L.RaiseError("%s", err.Error())
	}
	return p
}

func (v *vm) newMatcher() *luapattern.Matcher {
	return &luapattern.Matcher{Check: v.patternCheck}
}

// search is Matcher.Find raising a stop as a Lua error; the run's failure
// is then reported from its context (timeout, memory, cancel).
func search(L *glua.LState, m *luapattern.Matcher, p *luapattern.Pattern, s string, init int) (int, int) {
	start, end, err := m.Find(p, s, init)
	if err != nil {
		L.RaiseError("%s", err.Error())
	}
	return start, end
}

// startIndex turns Lua 5.1's init argument into a byte offset in
// [0, n]: negative counts from the end, beyond the end is the end.
func startIndex(init, n int) int {
	if init < 0 {
		init = max(n+init+1, 0)
	}
	return min(max(init-1, 0), n)
}

// find is string.find (withPositions) and string.match.
func (v *vm) find(L *glua.LState, withPositions bool) int {
	s := L.CheckString(1)
	pattern := L.CheckString(2)
	init := startIndex(L.OptInt(3, 1), len(s))
	if withPositions && (L.ToBool(4) || !strings.ContainsAny(pattern, luapattern.Specials)) {
		i := strings.Index(s[init:], pattern)
		if i < 0 {
			L.Push(glua.LNil)
			return 1
		}
		L.Push(glua.LNumber(init + i + 1))
		L.Push(glua.LNumber(init + i + len(pattern)))
		return 2
	}
	p := v.compile(L, pattern, true)
	m := v.newMatcher()
	start, end := search(L, m, p, s, init)
	if start < 0 {
		L.Push(glua.LNil)
		return 1
	}
	if withPositions {
		L.Push(glua.LNumber(start + 1))
		L.Push(glua.LNumber(end))
		return 2 + pushCaptures(L, m, p, s, start, end, false)
	}
	return pushCaptures(L, m, p, s, start, end, true)
}

// pushCaptures pushes every capture; with wholeIfNone a pattern without
// captures gives the whole match.
func pushCaptures(L *glua.LState, m *luapattern.Matcher, p *luapattern.Pattern, s string, start, end int, wholeIfNone bool) int {
	n := p.Captures()
	if n == 0 {
		if !wholeIfNone {
			return 0
		}
		L.Push(glua.LString(s[start:end]))
		return 1
	}
	for i := 0; i < n; i++ {
		L.Push(captureValue(m, s, i))
	}
	return n
}

// captureValue is capture i: its text, or for "()" its 1-based position.
func captureValue(m *luapattern.Matcher, s string, i int) glua.LValue {
	cs, ce, position := m.Capture(i)
	if position {
		return glua.LNumber(cs + 1)
	}
	return glua.LString(s[cs:ce])
}

// gmatch returns an iterator over the matches. As in Lua 5.1 a leading
// "^" is an ordinary character here, and after an empty match the next
// search starts one byte further. Only the iterator is returned (no
// state value); `for ... in string.gmatch(...)` works the same.
func (v *vm) gmatch(L *glua.LState) int {
	s := L.CheckString(1)
	p := v.compile(L, L.CheckString(2), false)
	m := v.newMatcher()
	pos := 0
	L.Push(L.NewFunction(func(L *glua.LState) int {
		if pos > len(s) {
			return 0
		}
		start, end := search(L, m, p, s, pos)
		if start < 0 {
			pos = len(s) + 1
			return 0
		}
		pos = end
		if end == start {
			pos++
		}
		return pushCaptures(L, m, p, s, start, end, true)
	}))
	return 1
}
