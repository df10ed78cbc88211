package passhash

import (
	"crypto/md5"
	"errors"
	"strings"
)

// MD5-crypt ("$1$salt$hash"), Poul-Henning Kamp's FreeBSD scheme, written
// from its published description: a digest of password, magic and salt
// mixed with a digest of password+salt+password, then 1000 rounds.

var errBadMD5Crypt = errors.New("malformed MD5-crypt hash")

const md5CryptMaxSalt = 8

// MD5Crypt hashes password with the salt of setting ("$1$salt[$...]") and
// returns the full crypt string.
func MD5Crypt(password, setting string) (string, error) {
	const magic = "$1$"
	rest, ok := strings.CutPrefix(setting, magic)
	if !ok {
		return "", errBadMD5Crypt
	}
	salt, _, _ := strings.Cut(rest, "$")
	if len(salt) > md5CryptMaxSalt {
		salt = salt[:md5CryptMaxSalt]
	}
	pw := []byte(password)

	alt := md5.New()
	alt.Write(pw)
	alt.Write([]byte(salt))
	alt.Write(pw)
	altSum := alt.Sum(nil)

	h := md5.New()
	h.Write(pw)
	h.Write([]byte(magic))
	h.Write([]byte(salt))
	for n := len(pw); n > 0; n -= 16 {
		h.Write(altSum[:min(n, 16)])
	}
	// The historical quirk: a zero byte for each set bit of the length,
	// else the password's first byte.
	for n := len(pw); n != 0; n >>= 1 {
		if n&1 != 0 {
			h.Write([]byte{0})
		} else {
			h.Write(pw[:1])
		}
	}
	final := h.Sum(nil)

	for i := range 1000 {
		r := md5.New()
		if i&1 != 0 {
			r.Write(pw)
		} else {
			r.Write(final)
		}
		if i%3 != 0 {
			r.Write([]byte(salt))
		}
		if i%7 != 0 {
			r.Write(pw)
		}
		if i&1 != 0 {
			r.Write(final)
		} else {
			r.Write(pw)
		}
		final = r.Sum(final[:0])
	}

	var b strings.Builder
	b.WriteString(magic)
	b.WriteString(salt)
	b.WriteByte('$')
	for k := range 4 {
		encode24(&b, final[k], final[k+6], final[k+12], 4)
	}
	encode24(&b, final[4], final[10], final[5], 4)
	encode24(&b, 0, 0, final[11], 2)
	return b.String(), nil
}
