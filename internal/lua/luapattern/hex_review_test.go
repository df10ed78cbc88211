package luapattern

import (
	"testing"

	"github.com/backline/backline/internal/testutil"
)

// %x and %X after the shared hex helper: %x matches exactly the hex
// digits of either case, %X every other byte, as Lua's isxdigit does.
func TestReviewHexClassEveryByte(t *testing.T) {
	for _, pat := range []string{"%x", "%X", "[%x]", "[^%x]"} {
		p, err := Compile(pat, true)
		if err != nil {
			t.Fatal(err)
		}
		negated := pat == "%X" || pat == "[^%x]"
		for c := 0; c < 256; c++ {
			m := &Matcher{}
			start, _, err := m.Find(p, string([]byte{byte(c)}), 0)
			if err != nil {
				t.Fatal(err)
			}
			_, hex := testutil.HexDigitRef(byte(c))
			if got := start == 0; got != (hex != negated) {
				t.Fatalf("%s on %q: matched %v", pat, byte(c), got)
			}
		}
	}
}
