package passhash

import (
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"hash"
	"strconv"
	"strings"
)

// SHA-crypt ($5$ SHA-256, $6$ SHA-512) as specified by Ulrich Drepper in
// "Unix crypt using SHA-256 and SHA-512", written from that description.

const (
	shaCryptDefaultRounds = 5000
	shaCryptMinRounds     = 1000
	shaCryptMaxRounds     = 999999999
	shaCryptMaxSalt       = 16
	cryptAlphabet         = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

var errBadSHACrypt = errors.New("malformed SHA-crypt hash")

// shaCrypt hashes password with the settings of setting ("$6$[rounds=N$]salt[$...]")
// and returns the full crypt string.
func SHACrypt(password, setting string) (string, error) {
	var newHash func() hash.Hash
	var prefix string
	switch {
	case strings.HasPrefix(setting, "$5$"):
		newHash, prefix = sha256.New, "$5$"
	case strings.HasPrefix(setting, "$6$"):
		newHash, prefix = sha512.New, "$6$"
	default:
		return "", errBadSHACrypt
	}
	rest := setting[3:]
	rounds, explicitRounds := shaCryptDefaultRounds, false
	if r, ok := strings.CutPrefix(rest, "rounds="); ok {
		num, after, found := strings.Cut(r, "$")
		if !found {
			return "", errBadSHACrypt
		}
		n, err := strconv.ParseUint(num, 10, 64)
		if err != nil {
			return "", errBadSHACrypt
		}
		rounds = int(min(max(n, shaCryptMinRounds), shaCryptMaxRounds))
		explicitRounds = true
		rest = after
	}
	salt, _, _ := strings.Cut(rest, "$")
	if len(salt) > shaCryptMaxSalt {
		salt = salt[:shaCryptMaxSalt]
	}
	digest := shaCryptDigest(newHash, []byte(password), []byte(salt), rounds)

	var b strings.Builder
	b.WriteString(prefix)
	if explicitRounds {
		b.WriteString("rounds=")
		b.WriteString(strconv.Itoa(rounds))
		b.WriteByte('$')
	}
	b.WriteString(salt)
	b.WriteByte('$')
	if prefix == "$5$" {
		encodeSHA256Crypt(&b, digest)
	} else {
		encodeSHA512Crypt(&b, digest)
	}
	return b.String(), nil
}

func shaCryptDigest(newHash func() hash.Hash, pw, salt []byte, rounds int) []byte {
	h := newHash()
	size := h.Size()

	// Digest B: password, salt, password.
	h.Write(pw)
	h.Write(salt)
	h.Write(pw)
	digestB := h.Sum(nil)

	// Digest A: password, salt, B stretched to len(password), then B or the
	// password for each bit of len(password).
	h.Reset()
	h.Write(pw)
	h.Write(salt)
	n := len(pw)
	for ; n > size; n -= size {
		h.Write(digestB)
	}
	h.Write(digestB[:n])
	for n = len(pw); n > 0; n >>= 1 {
		if n&1 != 0 {
			h.Write(digestB)
		} else {
			h.Write(pw)
		}
	}
	digestA := h.Sum(nil)

	// P sequence: a digest of the password repeated len(password) times.
	h.Reset()
	for range len(pw) {
		h.Write(pw)
	}
	pSeq := stretch(h.Sum(nil), len(pw))

	// S sequence: a digest of the salt repeated 16+A[0] times.
	h.Reset()
	for range 16 + int(digestA[0]) {
		h.Write(salt)
	}
	sSeq := stretch(h.Sum(nil), len(salt))

	// Each round's input is fully written before Sum, so the digest can be
	// overwritten in place.
	c := digestA
	for i := range rounds {
		h.Reset()
		if i&1 != 0 {
			h.Write(pSeq)
		} else {
			h.Write(c)
		}
		if i%3 != 0 {
			h.Write(sSeq)
		}
		if i%7 != 0 {
			h.Write(pSeq)
		}
		if i&1 != 0 {
			h.Write(c)
		} else {
			h.Write(pSeq)
		}
		c = h.Sum(c[:0])
	}
	return c
}

// stretch repeats digest to exactly n bytes.
func stretch(digest []byte, n int) []byte {
	out := make([]byte, 0, n)
	for len(out)+len(digest) <= n {
		out = append(out, digest...)
	}
	return append(out, digest[:n-len(out)]...)
}

func encode24(b *strings.Builder, b2, b1, b0 byte, chars int) {
	w := uint(b2)<<16 | uint(b1)<<8 | uint(b0)
	for range chars {
		b.WriteByte(cryptAlphabet[w&0x3f])
		w >>= 6
	}
}

// The byte orders below are the specification's transposition tables:
// group k takes bytes k, k+n, k+2n, rotated by k mod 3.
func encodeSHA512Crypt(b *strings.Builder, d []byte) {
	for k := range 21 {
		x, y, z := k, k+21, k+42
		switch k % 3 {
		case 1:
			x, y, z = k+21, k+42, k
		case 2:
			x, y, z = k+42, k, k+21
		}
		encode24(b, d[x], d[y], d[z], 4)
	}
	encode24(b, 0, 0, d[63], 2)
}

func encodeSHA256Crypt(b *strings.Builder, d []byte) {
	for k := range 10 {
		x, y, z := k, k+10, k+20
		switch k % 3 {
		case 1:
			x, y, z = k+20, k, k+10
		case 2:
			x, y, z = k+10, k+20, k
		}
		encode24(b, d[x], d[y], d[z], 4)
	}
	encode24(b, 0, d[31], d[30], 3)
}
