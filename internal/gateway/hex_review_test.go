package gateway

import (
	"testing"

	"github.com/backline/backline/internal/testutil"
)

// validRegName after the shared hex helper: a %-escape of two hex digits
// (either case) is part of a host name, anything else after % is not.
func TestReviewRegNameEscapesEveryByte(t *testing.T) {
	for x := 0; x < 256; x++ {
		for y := 0; y < 256; y++ {
			s := "a%" + string([]byte{byte(x), byte(y)}) + "z"
			_, ok1 := testutil.HexDigitRef(byte(x))
			_, ok2 := testutil.HexDigitRef(byte(y))
			if got := validRegName(s); got != (ok1 && ok2) {
				t.Fatalf("validRegName(%q) = %v", s, got)
			}
		}
	}
}
