package luapattern

import (
	"strings"
	"testing"

	"github.com/yuin/gopher-lua/pm"
)

// benchCases are patterns typical of filters: a user@domain split, a
// prefix test, a character-class scan over a longer line, a literal.
var benchCases = []struct{ name, subject, pattern string }{
	{"split", "alice.smith@example.org", "^([^@]+)@(.+)$"},
	{"prefix", "imap.backend-03.internal", "^imap%."},
	{"scan", strings.Repeat("word ", 40) + "id=12345;", "id=(%d+)"},
	{"literal", strings.Repeat("x", 200) + "needle", "needle"},
	{"trim", "   padded value   ", "^%s*(.-)%s*$"},
}

// BenchmarkFind compares this matcher (compile + find, as string.find
// does on every call) with gopher-lua's pm. Run:
// go test -run XXX -bench Find ./internal/lua/luapattern/
func BenchmarkFind(b *testing.B) {
	for _, c := range benchCases {
		b.Run(c.name+"/luapattern", func(b *testing.B) {
			m := &Matcher{Check: func() error { return nil }}
			for b.Loop() {
				p, err := Compile(c.pattern, true)
				if err != nil {
					b.Fatal(err)
				}
				if s, _, _ := m.Find(p, c.subject, 0); s < 0 {
					b.Fatal("no match")
				}
			}
		})
		b.Run(c.name+"/pm", func(b *testing.B) {
			src := []byte(c.subject)
			for b.Loop() {
				if found, _ := pm.Find(c.pattern, src, 0, 1); len(found) == 0 {
					b.Fatal("no match")
				}
			}
		})
	}
}
