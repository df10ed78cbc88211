package auth

import (
	"crypto/rand"
	"encoding/binary"
	"time"
)

const (
	sessionIDLen  = 27
	base62Digits  = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	ksuidEpochSec = 1400000000 // KSUID's epoch, so ids sort by time like Nauthilus's
)

// newSessionID returns a KSUID-shaped id: 4 bytes of seconds since the KSUID
// epoch and 16 random bytes, in 27 base62 digits.
func newSessionID(now time.Time) string {
	var raw [20]byte
	binary.BigEndian.PutUint32(raw[:4], uint32(now.Unix()-ksuidEpochSec))
	if _, err := rand.Read(raw[4:]); err != nil {
		panic("auth: no randomness for session ids: " + err.Error())
	}
	// 160-bit big-endian number as five 32-bit words, divided by 62 digit
	// by digit (62^27 > 2^160, so 27 digits always suffice).
	var words [5]uint32
	for i := range words {
		words[i] = binary.BigEndian.Uint32(raw[i*4:])
	}
	var out [sessionIDLen]byte
	for pos := sessionIDLen - 1; pos >= 0; pos-- {
		var rem uint64
		for i := range words {
			cur := rem<<32 | uint64(words[i])
			words[i] = uint32(cur / 62)
			rem = cur % 62
		}
		out[pos] = base62Digits[rem]
	}
	return string(out[:])
}
