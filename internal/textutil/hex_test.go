package textutil

import (
	"strconv"
	"testing"
)

// Every byte: IsHexDigit agrees with strconv, and HexDigitValue gives the
// digit's value.
func TestHexDigits(t *testing.T) {
	for i := 0; i < 256; i++ {
		c := byte(i)
		want, err := strconv.ParseUint(string([]byte{c}), 16, 8)
		if got := IsHexDigit(c); got != (err == nil) {
			t.Fatalf("IsHexDigit(%q) = %v", c, got)
		}
		if err == nil && uint64(HexDigitValue(c)) != want {
			t.Fatalf("HexDigitValue(%q) = %d, want %d", c, HexDigitValue(c), want)
		}
	}
}
