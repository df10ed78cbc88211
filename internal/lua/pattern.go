package lua

import (
	"fmt"
	"strings"
	"unsafe"

	glua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/pm"
)

// gopher-lua's gsub and gmatch collect every match before they start
// (about 100 bytes per match, so gsub(s, "", "") on 64 MiB wants gigabytes)
// and gsub copies the whole string once per replacement. These versions
// find one match at a time with the same pattern engine and the same
// replacement rules, and gsub checks its result against the budget as it
// grows.

// matcher yields the matches of pattern in src from left to right, with
// pm.Find's rules: after a match at sp ending at end, go on at
// max(sp+1, end); an anchored pattern ("^...") is tried once. It asks
// pm.Find for matchBatch matches at a time, which bounds the memory and
// parses the pattern once per batch.
type matcher struct {
	pattern  string
	src      []byte
	pos      int
	anchored bool
	done     bool
	batch    []*pm.MatchData
}

const matchBatch = 256

func newMatcher(L *glua.LState, src, pattern string) *matcher {
	m := &matcher{pattern: pattern, src: readOnlyBytes(src), anchored: strings.HasPrefix(pattern, "^")}
	if _, err := pm.Find(pattern, nil, 0, 1); err != nil {
		L.RaiseError("%s", err.Error())
	}
	return m
}

func readOnlyBytes(s string) []byte {
	if s == "" {
		return nil
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

func (m *matcher) next(L *glua.LState) *pm.MatchData {
	if len(m.batch) == 0 {
		if m.done || m.pos > len(m.src) {
			return nil
		}
		found, err := pm.Find(m.pattern, m.src, m.pos, matchBatch)
		if err != nil {
			L.RaiseError("%s", err.Error())
		}
		if m.anchored || len(found) < matchBatch {
			m.done = true
		}
		if len(found) == 0 {
			return nil
		}
		last := found[len(found)-1]
		m.pos = max(last.Capture(0)+1, last.Capture(1))
		m.batch = found
	}
	md := m.batch[0]
	m.batch[0] = nil
	m.batch = m.batch[1:]
	return md
}

// capture is capture idx (0 = whole match, 2, 4, ... = %1, %2, ...) as
// gopher-lua's capturedString gives it.
func capture(L *glua.LState, md *pm.MatchData, src string, idx int) glua.LValue {
	if idx > 2 && idx >= md.CaptureLength() {
		L.RaiseError("invalid capture index")
	}
	if idx >= md.CaptureLength() && idx == 2 {
		idx = 0
	}
	if md.IsPosCapture(idx) {
		return glua.LNumber(md.Capture(idx))
	}
	return glua.LString(src[md.Capture(idx):md.Capture(idx+1)])
}

func (v *vm) gsub(L *glua.LState) int {
	src := L.CheckString(1)
	pattern := L.CheckString(2)
	L.CheckTypes(3, glua.LTString, glua.LTTable, glua.LTFunction)
	repl := L.Get(3)
	limit := L.OptInt(4, -1)

	m := newMatcher(L, src, pattern)
	if limit == 0 {
		m.done = true // gopher-lua: a limit of 0 replaces nothing
	}
	var out strings.Builder
	last, count := 0, 0
	emit := func(s string) {
		if n := int64(out.Len()) + int64(len(s)); n > 4096 {
			v.charge(L, n)
		}
		out.WriteString(s)
	}
	for md := m.next(L); md != nil; md = m.next(L) {
		start, end := md.Capture(0), md.Capture(1)
		replacement, replace := gsubReplacement(L, md, src, repl)
		if replace {
			emit(src[last:start])
			emit(replacement)
			last = end
		}
		count++
		if count == limit {
			break
		}
	}
	if count == 0 {
		L.SetTop(1)
		L.Push(glua.LNumber(0))
		return 2
	}
	emit(src[last:])
	L.Push(glua.LString(out.String()))
	L.Push(glua.LNumber(count))
	return 2
}

// gsubReplacement is one match's replacement; replace is false when a
// table or function gave false or nil (the match stays).
func gsubReplacement(L *glua.LState, md *pm.MatchData, src string, repl glua.LValue) (string, bool) {
	switch r := repl.(type) {
	case glua.LString:
		return expandReplacement(L, md, src, string(r)), true
	case *glua.LTable:
		idx := 0
		if md.CaptureLength() > 2 {
			idx = 2
		}
		value := L.GetTable(r, capture(L, md, src, idx))
		if glua.LVIsFalse(value) {
			return "", false
		}
		return glua.LVAsString(value), true
	case *glua.LFunction:
		L.Push(r)
		nargs := 1
		if md.CaptureLength() > 2 {
			nargs = 0
			for i := 2; i < md.CaptureLength(); i += 2 {
				L.Push(capture(L, md, src, i))
				nargs++
			}
		} else {
			L.Push(capture(L, md, src, 0))
		}
		L.Call(nargs, 1)
		ret := L.Get(-1)
		L.Pop(1)
		if glua.LVIsFalse(ret) {
			return "", false
		}
		return glua.LVAsString(ret), true
	}
	return "", false
}

// expandReplacement applies gopher-lua's rules: %0..%9 are captures, %%
// is %, any other %x stays "%x", a final lone % stays.
func expandReplacement(L *glua.LState, md *pm.MatchData, src, repl string) string {
	if !strings.Contains(repl, "%") {
		return repl
	}
	var b strings.Builder
	for j := 0; j < len(repl); j++ {
		c := repl[j]
		if c != '%' || j == len(repl)-1 {
			b.WriteByte(c)
			continue
		}
		j++
		switch n := repl[j]; {
		case n == '%':
			b.WriteByte('%')
		case n >= '0' && n <= '9':
			b.WriteString(captureText(L, md, src, 2*int(n-'0')))
		default:
			b.WriteByte('%')
			b.WriteByte(n)
		}
	}
	return b.String()
}

func captureText(L *glua.LState, md *pm.MatchData, src string, idx int) string {
	switch c := capture(L, md, src, idx).(type) {
	case glua.LNumber:
		return fmt.Sprint(int(c))
	case glua.LString:
		return string(c)
	}
	return ""
}

// gmatch returns an iterator that finds the next match on each call.
func gmatch(L *glua.LState) int {
	src := L.CheckString(1)
	m := newMatcher(L, src, L.CheckString(2))
	L.Push(L.NewFunction(func(L *glua.LState) int {
		md := m.next(L)
		if md == nil {
			return 0
		}
		if md.CaptureLength() == 2 {
			L.Push(glua.LString(src[md.Capture(0):md.Capture(1)]))
			return 1
		}
		for i := 2; i < md.CaptureLength(); i += 2 {
			L.Push(capture(L, md, src, i))
		}
		return md.CaptureLength()/2 - 1
	}))
	return 1
}
