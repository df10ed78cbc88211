package redact

import (
	"testing"

	"github.com/backline/backline/internal/testutil"
)

// percentDecode and SensitiveParam after the shared hex helper: every
// "%XY" of two hex digits (either case) decodes, anything else stays; a
// sensitive word spelled with escapes in either case is still found, and
// a broken escape in a name is taken as sensitive.
func TestReviewPercentDecodeEveryEscape(t *testing.T) {
	for x := 0; x < 256; x++ {
		for y := 0; y < 256; y++ {
			s := "a%" + string([]byte{byte(x), byte(y)}) + "z"
			hi, ok1 := testutil.HexDigitRef(byte(x))
			lo, ok2 := testutil.HexDigitRef(byte(y))
			want := s
			if ok1 && ok2 {
				want = "a" + string([]byte{hi<<4 | lo}) + "z"
			}
			if got := percentDecode(s); got != want {
				t.Fatalf("percentDecode(%q) = %q, want %q", s, got, want)
			}
		}
	}
	for _, name := range []string{"p%61ssword", "p%41ssword", "%70%61%73%73%77%6f%72%64", "%50%41%53%53%57%4F%52%44", "to%6Ben", "to%6bEN", "pass%zzword", "x%4"} {
		if !SensitiveParam(name) {
			t.Errorf("SensitiveParam(%q) = false", name)
		}
	}
	for _, name := range []string{"p%61ge", "%50%41GE", "sort"} {
		if SensitiveParam(name) {
			t.Errorf("SensitiveParam(%q) = true", name)
		}
	}
}
