package auth

import (
	"encoding/binary"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
)

// referenceBase62 is the number in base62 by math/big, padded to 27 digits.
func referenceBase62(raw [20]byte) string {
	n := new(big.Int).SetBytes(raw[:])
	var digits []byte
	base := big.NewInt(62)
	mod := new(big.Int)
	for n.Sign() > 0 {
		n.DivMod(n, base, mod)
		digits = append(digits, base62Digits[mod.Int64()])
	}
	for len(digits) < sessionIDLen {
		digits = append(digits, '0')
	}
	for i, j := 0, len(digits)-1; i < j; i, j = i+1, j-1 {
		digits[i], digits[j] = digits[j], digits[i]
	}
	return string(digits)
}

// TestBase62EncodeMatchesBigInt: the chunked division gives the digits of
// the plain base62 representation, for the extremes and random numbers.
func TestBase62EncodeMatchesBigInt(t *testing.T) {
	var cases [][20]byte
	var zero, ones [20]byte
	for i := range ones {
		ones[i] = 0xff
	}
	cases = append(cases, zero, ones)
	var one [20]byte
	one[19] = 1
	cases = append(cases, one)
	var ts [20]byte
	binary.BigEndian.PutUint32(ts[:4], 0xffffffff)
	cases = append(cases, ts)
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		var c [20]byte
		for i := range c {
			c[i] = byte(rng.Uint32())
		}
		cases = append(cases, c)
	}
	for _, c := range cases {
		got, want := base62Encode(c), referenceBase62(c)
		if got != want {
			t.Fatalf("%x: got %s want %s", c, got, want)
		}
	}
	if got := base62Encode(ones); strings.Trim(got, base62Digits) != "" || len(got) != sessionIDLen {
		t.Fatalf("max: %q", got)
	}
}
