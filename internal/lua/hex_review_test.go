package lua

import (
	"testing"

	"github.com/backline/backline/internal/testutil"
)

// urlPartialDecode after the shared hex helper: every "%XY" of two hex
// digits (either case) decodes, anything else stays as written.
func TestReviewURLPartialDecodeEveryEscape(t *testing.T) {
	for x := 0; x < 256; x++ {
		for y := 0; y < 256; y++ {
			s := "a%" + string([]byte{byte(x), byte(y)}) + "z"
			hi, ok1 := testutil.HexDigitRef(byte(x))
			lo, ok2 := testutil.HexDigitRef(byte(y))
			want := s
			if ok1 && ok2 {
				want = "a" + string([]byte{hi<<4 | lo}) + "z"
			}
			if got := urlPartialDecode(s); got != want {
				t.Fatalf("urlPartialDecode(%q) = %q, want %q", s, got, want)
			}
		}
	}
	for _, s := range []string{"%", "%4", "a%4", "%%", "%G1"} {
		if got := urlPartialDecode(s); got != s {
			t.Errorf("urlPartialDecode(%q) = %q, want it unchanged", s, got)
		}
	}
}
