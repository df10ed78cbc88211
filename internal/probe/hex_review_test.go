package probe

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

// hexCase after the shared hex helper: the digits of every %-escape of
// two hex digits change case, nothing else does.
func TestReviewHexCaseEveryEscape(t *testing.T) {
	for x := 0; x < 256; x++ {
		for y := 0; y < 256; y++ {
			s := "a%" + string([]byte{byte(x), byte(y)}) + "z"
			_, ok1 := refHex(byte(x))
			_, ok2 := refHex(byte(y))
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
