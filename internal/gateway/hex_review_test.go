package gateway

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

// validRegName after the shared hex helper: a %-escape of two hex digits
// (either case) is part of a host name, anything else after % is not.
func TestReviewRegNameEscapesEveryByte(t *testing.T) {
	for x := 0; x < 256; x++ {
		for y := 0; y < 256; y++ {
			s := "a%" + string([]byte{byte(x), byte(y)}) + "z"
			_, ok1 := refHex(byte(x))
			_, ok2 := refHex(byte(y))
			if got := validRegName(s); got != (ok1 && ok2) {
				t.Fatalf("validRegName(%q) = %v", s, got)
			}
		}
	}
}
