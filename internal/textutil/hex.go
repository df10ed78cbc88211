// Package textutil holds byte-level helpers for text that several packages
// parse (percent-encoding and the like). It imports nothing of backline,
// so every package may use it.
package textutil

// IsHexDigit reports whether c is a hexadecimal digit: 0-9, a-f or A-F.
func IsHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// HexDigitValue is the value (0..15) of the hexadecimal digit c; callers
// check IsHexDigit(c) first, the result for another byte means nothing.
func HexDigitValue(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
