package lua

import "testing"

// refHex is a hex digit's value by lookup, independent of textutil.
func refHex(c byte) (byte, bool) {
	const digits = "0123456789abcdef"
	if c >= 'A' && c <= 'F' {
		c += 'a' - 'A'
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] == c {
			return byte(i), true
		}
	}
	return 0, false
}

// urlPartialDecode after the shared hex helper: every "%XY" of two hex
// digits (either case) decodes, anything else stays as written.
func TestReviewURLPartialDecodeEveryEscape(t *testing.T) {
	for x := 0; x < 256; x++ {
		for y := 0; y < 256; y++ {
			s := "a%" + string([]byte{byte(x), byte(y)}) + "z"
			hi, ok1 := refHex(byte(x))
			lo, ok2 := refHex(byte(y))
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
