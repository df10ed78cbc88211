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
	return base62Encode(raw)
}

// base62Chunk is 62^5, the largest power of 62 below 2^32: dividing the
// 160-bit number by it yields five digits per long division (6 divisions of
// five words instead of 27).
const base62Chunk = 62 * 62 * 62 * 62 * 62

// base62Encode writes raw, a 160-bit big-endian number, as 27 base62 digits
// (62^27 > 2^160, so 27 always suffice), most significant first.
func base62Encode(raw [20]byte) string {
	var words [5]uint32
	for i := range words {
		words[i] = binary.BigEndian.Uint32(raw[i*4:])
	}
	var out [sessionIDLen]byte
	for pos := sessionIDLen; pos > 0; {
		var rem uint64
		for i := range words {
			cur := rem<<32 | uint64(words[i])
			words[i] = uint32(cur / base62Chunk)
			rem = cur % base62Chunk
		}
		// rem holds the next five digits (two in the last, top chunk).
		for k := 0; k < 5 && pos > 0; k++ {
			pos--
			out[pos] = base62Digits[rem%62]
			rem /= 62
		}
	}
	return string(out[:])
}
