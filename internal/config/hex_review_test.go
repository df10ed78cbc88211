package config

import (
	"fmt"
	"github.com/backline/backline/internal/testutil"
	"strings"
	"testing"
)

// DecodeEscapes and checkRequestURI after the shared hex helper: every
// \xHH and %HH of two hex digits (either case) is taken with its value,
// anything else is refused at its offset.
func TestReviewHexEscapesEveryByte(t *testing.T) {
	for x := 0; x < 256; x++ {
		for y := 0; y < 256; y++ {
			pair := string([]byte{byte(x), byte(y)})
			hi, ok1 := testutil.HexDigitRef(byte(x))
			lo, ok2 := testutil.HexDigitRef(byte(y))
			got, err := DecodeEscapes(`a\x` + pair + "b")
			if ok1 && ok2 {
				if err != nil || string(got) != "a"+string([]byte{hi<<4 | lo})+"b" {
					t.Fatalf("DecodeEscapes(%q) = %q, %v", pair, got, err)
				}
			} else if err == nil || !strings.Contains(err.Error(), "offset 1") {
				t.Fatalf("DecodeEscapes(%q) = %q, %v; want an error at offset 1", pair, got, err)
			}
			msg := checkRequestURI("/a%" + pair)
			if ok1 && ok2 && msg != "" {
				t.Fatalf("checkRequestURI(%q): %s", pair, msg)
			}
			if !(ok1 && ok2) && !strings.Contains(msg, fmt.Sprintf("invalid percent-escape at offset %d", 2)) {
				t.Fatalf("checkRequestURI(%q) = %q, want an invalid escape at offset 2", pair, msg)
			}
		}
	}
}
