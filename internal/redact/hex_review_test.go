package redact

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

// percentDecode and SensitiveParam after the shared hex helper: every
// "%XY" of two hex digits (either case) decodes, anything else stays; a
// sensitive word spelled with escapes in either case is still found, and
// a broken escape in a name is taken as sensitive.
func TestReviewPercentDecodeEveryEscape(t *testing.T) {
	for x := 0; x < 256; x++ {
		for y := 0; y < 256; y++ {
			s := "a%" + string([]byte{byte(x), byte(y)}) + "z"
			hi, ok1 := refHex(byte(x))
			lo, ok2 := refHex(byte(y))
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
