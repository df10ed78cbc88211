package auth

import (
	"strconv"
	"testing"
)

// percentDecode after the shared hex helper: every "%XY" decodes to the
// byte strconv reads (upper and lower case alike), and every escape with
// a byte that is not a hex digit, or cut short, is refused.
func TestReviewPercentDecodeEveryEscape(t *testing.T) {
	for x := 0; x < 256; x++ {
		for y := 0; y < 256; y++ {
			s := "a%" + string([]byte{byte(x), byte(y)}) + "b"
			want, perr := strconv.ParseUint(s[2:4], 16, 8)
			valid := perr == nil && s[2] != '+' && s[2] != '-' && s[2] != '_' && s[3] != '_'
			got, err := percentDecode(s)
			switch {
			case valid && (err != nil || got != "a"+string([]byte{byte(want)})+"b"):
				t.Fatalf("percentDecode(%q) = %q, %v; want byte %#x", s, got, err, want)
			case !valid && err == nil:
				t.Fatalf("percentDecode(%q) = %q, want an error", s, got)
			}
		}
	}
	for _, s := range []string{"%", "%4", "a%4", "%%41"} {
		if got, err := percentDecode(s); err == nil {
			t.Errorf("percentDecode(%q) = %q, want an error", s, got)
		}
	}
}
