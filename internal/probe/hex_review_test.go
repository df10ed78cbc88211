package probe

import (
	"testing"

	"github.com/backline/backline/internal/testutil"
)

// hexCase after the shared hex helper: the digits of every %-escape of
// two hex digits change case, nothing else does.
func TestReviewHexCaseEveryEscape(t *testing.T) {
	for x := 0; x < 256; x++ {
		for y := 0; y < 256; y++ {
			s := "a%" + string([]byte{byte(x), byte(y)}) + "z"
			_, ok1 := testutil.HexDigitRef(byte(x))
			_, ok2 := testutil.HexDigitRef(byte(y))
			up, low := []byte(s), []byte(s)
			if ok1 && ok2 {
				for _, j := range []int{2, 3} {
					if c := up[j]; c >= 'a' && c <= 'f' {
						up[j] = c - 'a' + 'A'
					}
					if c := low[j]; c >= 'A' && c <= 'F' {
						low[j] = c - 'A' + 'a'
					}
				}
			}
			if got := hexCase(s, true); got != string(up) {
				t.Fatalf("hexCase(%q, upper) = %q, want %q", s, got, up)
			}
			if got := hexCase(s, false); got != string(low) {
				t.Fatalf("hexCase(%q, lower) = %q, want %q", s, got, low)
			}
		}
	}
}
