package lua

import (
	"errors"
	"strings"

	glua "github.com/yuin/gopher-lua"
)

// maxFormatDigits: like Lua 5.1, a width or precision has at most two
// digits. gopher-lua hands the format to Go's fmt, which would accept up to
// a million, so "%999999s" repeated would build gigabytes.
const maxFormatDigits = 2

var errFormatWidth = errors.New("invalid format (width or precision too long)")

// formatBound is an upper bound of the length of string.format(format,
// args...) as gopher-lua computes it (fmt.Sprintf over the Lua values), or
// an error for a width or precision of more than two digits.
//
// Per directive: at most 99 + 99 padding characters, plus the longest
// argument's text (4 bytes per byte covers %q, %x and "% x" of strings; 420
// covers any number, e.g. %.99f of 1e308), plus 64 for fmt's error texts
// such as %!d(MISSING). Arguments that fmt reports as %!(EXTRA ...) are
// added once more each.
func formatBound(format string, args []glua.LValue) (int64, error) {
	longest, all := int64(0), int64(0)
	for _, a := range args {
		n := argTextBound(a)
		longest = max(longest, n)
		all = addSat(all, n+64)
	}
	directives := int64(0)
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
		i++
		if i < len(format) && format[i] == '%' {
			continue
		}
		// flags
		for i < len(format) && strings.IndexByte("+-# 0", format[i]) >= 0 {
			i++
		}
		i = skipArgIndex(format, i)
		if i < len(format) && format[i] == '*' {
			i++
		} else if i = skipDigits(format, i); i < 0 {
			return 0, errFormatWidth
		}
		if i < len(format) && format[i] == '.' {
			i = skipArgIndex(format, i+1)
			if i < len(format) && format[i] == '*' {
				i++
			} else if i = skipDigits(format, i); i < 0 {
				return 0, errFormatWidth
			}
		}
		i = skipArgIndex(format, i)
		directives++
	}
	per := int64(99+99+64) + longest
	return addSat(addSat(int64(len(format)), mulSat(directives, per)), all), nil
}

// skipDigits skips at most maxFormatDigits digits; -1 if there are more.
func skipDigits(format string, i int) int {
	start := i
	for i < len(format) && format[i] >= '0' && format[i] <= '9' {
		i++
	}
	if i-start > maxFormatDigits {
		return -1
	}
	return i
}

// skipArgIndex skips Go's explicit argument index "[n]".
func skipArgIndex(format string, i int) int {
	if i < len(format) && format[i] == '[' {
		if end := strings.IndexByte(format[i:], ']'); end >= 0 {
			return i + end + 1
		}
	}
	return i
}

func argTextBound(v glua.LValue) int64 {
	if s, ok := v.(glua.LString); ok {
		return mulSat(int64(len(s)), 4) + 2
	}
	return 420
}
