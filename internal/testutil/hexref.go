package testutil

// HexDigitRef is a hex digit's value by lookup, written apart from
// internal/textutil so tests of its callers compare against an
// independent rule.
func HexDigitRef(c byte) (byte, bool) {
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
