package luapattern

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// render shows a Find result as "start-end" with Lua's 1-based positions,
// then each capture as "[start,end)" (0-based) or a position, or "nil".
func render(p *Pattern, m *Matcher, start, end int) string {
	if start < 0 {
		return "nil"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d-%d", start+1, end)
	for i := 0; i < p.Captures(); i++ {
		cs, ce, pos := m.Capture(i)
		if pos {
			fmt.Fprintf(&b, " %d", cs+1)
		} else {
			fmt.Fprintf(&b, " [%d,%d)", cs, ce)
		}
	}
	return b.String()
}

func find(subject, pattern string, init int) string {
	p, err := Compile(pattern, true)
	if err != nil {
		return "error: " + err.Error()
	}
	m := &Matcher{}
	start, end, err := m.Find(p, subject, init)
	if err != nil {
		return "error: " + err.Error()
	}
	return render(p, m, start, end)
}

func TestFindFollowsLua51(t *testing.T) {
	for _, c := range []struct {
		s, p string
		init int
		want string
	}{
		{"hello world", "o", 0, "5-5"},
		{"hello world", "o", 5, "8-8"},
		{"hello world", "l+", 0, "3-4"},
		{"hello world", "^h", 0, "1-1"},
		{"hello world", "^e", 0, "nil"},
		{"hello world", "^e", 1, "2-2"},
		{"hello", "o$", 0, "5-5"},
		{"hello$", "o$", 0, "nil"},
		{"a$b", "$b", 0, "2-3"},
		{"a^b", "a^b", 0, "1-3"},
		{"^a", "^^a", 0, "1-2"},
		{"", "", 0, "1-0"},
		{"abc", "", 3, "4-3"},
		{"abc", "x*", 0, "1-0"},
		{"aaab", "a-b", 0, "1-4"},
		{"aaab", "a*", 0, "1-3"},
		{"aaab", "a?a?b", 0, "2-4"},
		{"key = value", "(%w+)%s*=%s*(%w+)", 0, "1-11 [0,3) [6,11)"},
		{"hello", "()ll()", 0, "3-4 3 5"},
		{"x(a(b)c)y", "%b()", 0, "2-8"},
		{"((a)", "%b()", 0, "2-4"},
		{"THE (quick) fox", "%f[%a]%a+", 0, "1-3"},
		{"THE (quick) fox", "%f[%a]%a+", 3, "6-10"},
		{"hello", "%f[%z]", 0, "6-5"},
		{"abcabc", "(abc)%1", 0, "1-6 [0,3)"},
		{"aXbXc", "(.)X%1", 0, "nil"},
		{"abab", "(()a)b%2", 0, "nil"}, // a position capture never matches as %n
		{"a]b", "[]]", 0, "2-2"},
		{"a-b", "[a-]", 1, "2-2"},
		{"a-b", "[%a-]+", 0, "1-3"},
		{"x^y", "[x^]+", 0, "1-2"},
		{"abc123", "[^%d]+", 0, "1-3"},
		{"ABCdef", "%u+", 0, "1-3"},
		{"ABCdef", "%U+", 0, "4-6"},
		{"a.b", "%.", 0, "2-2"},
		{"a\x00b", "%z", 0, "2-2"},
		{"a\x00b", "[%z]", 0, "2-2"},
		{"\t x", "%s+", 0, "1-2"},
		{"a!b", "%p", 0, "2-2"},
		{"a\x7fb", "%c", 0, "2-2"},
		{"09afAFg", "%x+", 0, "1-6"},
		{"q", "%q", 0, "1-1"},
		{"]", "[%]]", 0, "1-1"},
		{"]", "[0-%]x]", 0, "1-1"}, // "%" escapes "]" when the set's end is found
		{"0", "[0-0-0]", 0, "1-1"},
		{"A", "[%C-0]", 0, "1-1"},
		{"^", "[^^]", 0, "nil"},
		{"aaa", "a-$", 0, "1-3"},
		{"abc", "()", 0, "1-0 1"},
		{"-+*?", "-+", 0, "1-1"},
		{"*a", "*a", 0, "1-2"},
	} {
		if got := find(c.s, c.p, c.init); got != c.want {
			t.Errorf("find(%q, %q, %d) = %s, want %s", c.s, c.p, c.init, got, c.want)
		}
	}
}

func TestMalformedPatternsGiveLuaErrors(t *testing.T) {
	for p, want := range map[string]string{
		"%":                         "malformed pattern (ends with '%')",
		"abc%":                      "malformed pattern (ends with '%')",
		"[a":                        "malformed pattern (missing ']')",
		"[]":                        "malformed pattern (missing ']')",
		"[^]":                       "malformed pattern (missing ']')",
		"[a%":                       "malformed pattern (missing ']')",
		"[a%]":                      "malformed pattern (missing ']')",
		"%f":                        "missing '[' after '%f' in pattern",
		"%fa":                       "missing '[' after '%f' in pattern",
		"%f[a":                      "malformed pattern (missing ']')",
		"%b":                        "malformed pattern (missing arguments to '%b')",
		"%bx":                       "malformed pattern (missing arguments to '%b')",
		"(":                         "unfinished capture",
		"(()":                       "unfinished capture",
		")":                         "invalid pattern capture",
		"a)":                        "invalid pattern capture",
		"%1":                        "invalid capture index",
		"%0":                        "invalid capture index",
		"(a%1)":                     "invalid capture index",
		"(a)%2":                     "invalid capture index",
		"(()%1)":                    "invalid capture index", // %1 is the open outer capture
		strings.Repeat("(", 100000): "too many captures",
		strings.Repeat("()", 33):    "too many captures",
	} {
		_, err := Compile(p, true)
		var perr *Error
		if !errors.As(err, &perr) || perr.Msg != want {
			t.Errorf("Compile(%.40q) = %v, want %q", p, err, want)
		}
	}
	if _, err := Compile(strings.Repeat("()", 32), true); err != nil {
		t.Errorf("32 captures: %v", err)
	}
	if _, err := Compile("()%1", true); err != nil {
		t.Errorf("()%%1: %v", err)
	}
}

// TestCheckStopsABacktrackingMatch: the catastrophic patterns end as soon
// as the check says so, with its error.
func TestCheckStopsABacktrackingMatch(t *testing.T) {
	stop := errors.New("deadline")
	for _, c := range []struct{ s, p string }{
		{strings.Repeat("a", 30000), ".-.-.-.-.-.-b"},
		{strings.Repeat("a", 30000), "(.-)(.-)(.-)(.-)(.-)b"},
		{strings.Repeat("a", 30000), "a*a*a*a*a*a*b"},
		{strings.Repeat("(", 1<<20), "%b()"},
		{strings.Repeat("ab", 1<<19), "(.*)%1x"},
	} {
		calls := 0
		m := &Matcher{Check: func() error {
			if calls++; calls > 100 {
				return stop
			}
			return nil
		}}
		p, err := Compile(c.p, true)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = m.Find(p, c.s, 0)
		if !errors.Is(err, stop) {
			t.Errorf("%q: err = %v after %d checks", c.p, err, calls)
		}
	}
}

// TestLongPatternsDoNotRecurse: 100,000 items, each a choice point, run on
// the explicit stack.
func TestLongPatternsDoNotRecurse(t *testing.T) {
	p, err := Compile(strings.Repeat("a?", 100000)+"b", true)
	if err != nil {
		t.Fatal(err)
	}
	m := &Matcher{}
	start, end, err := m.Find(p, strings.Repeat("a", 1000)+"b", 0)
	if err != nil || start != 0 || end != 1001 {
		t.Errorf("got %d %d %v", start, end, err)
	}
}
