// tokenByte is RFC 9110's tchar, byte for byte.
package gateway

import (
	"strings"
	"testing"
)

func TestTokenTableMatchesRFC(t *testing.T) {
	for c := 0; c < 256; c++ {
		want := (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || (c < 0x80 && c > 0 && strings.IndexByte("!#$%&'*+-.^_`|~", byte(c)) >= 0)
		if tokenByte[c] != want {
			t.Errorf("byte %#x: %v, want %v", c, tokenByte[c], want)
		}
	}
}
