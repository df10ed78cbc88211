package lua

import (
	"fmt"
	"math"
	"strings"
	"testing"

	glua "github.com/yuin/gopher-lua"
)

// FuzzStringFormatBound: whatever string.format is given, when formatBound
// lets it through, gopher-lua's result is no longer than the bound the
// budget was charged with. Inputs are kept small; the bound is what scales.
func FuzzStringFormatBound(f *testing.F) {
	for _, seed := range []string{"%s", "%5.2f", "%-99s|%99d", "%q", "% x", "%[2]*[1]d", "%.[1]99f", "%+#0 99.99e", "%%%c%U", "%v%T%p", "%[3]s", "%!", "%*s", "%.*f", "%x%X%o%b"} {
		f.Add(seed, "ab\x00\xff\u2028", 1e308)
		f.Add(seed, "", math.Inf(-1))
	}
	f.Fuzz(func(t *testing.T, format, s string, n float64) {
		if len(format) > 64 || len(s) > 64 {
			t.Skip()
		}
		args := []glua.LValue{glua.LString(s), glua.LNumber(n), glua.LString(s)}
		bound, err := formatBound(format, args)
		if err != nil {
			return
		}
		// What gopher-lua's string.format does.
		npat := strings.Count(format, "%") - strings.Count(format, "%%")
		values := make([]any, 0, len(args))
		for _, a := range args[:min(npat, len(args))] {
			values = append(values, a)
		}
		out := fmt.Sprintf(format, values...)
		if int64(len(out)) > bound {
			t.Fatalf("format %q: output %d bytes, bound %d", format, len(out), bound)
		}
	})
}
