package luapattern

import (
	"math/bits"

	"github.com/backline/backline/internal/textutil"
)

// byteSet is a set of bytes, one bit each. Every character class of a
// pattern (".", "%a", "[^%d_]") becomes one, so matching a byte is a
// shift and a mask whatever the class was written as.
type byteSet [4]uint64

func (s *byteSet) has(c byte) bool { return s[c>>6]&(1<<(c&63)) != 0 }

func (s *byteSet) add(c byte) { s[c>>6] |= 1 << (c & 63) }

func (s *byteSet) addRange(lo, hi byte) {
	for c := int(lo); c <= int(hi); c++ {
		s.add(byte(c))
	}
}

// only returns the set's byte when it has exactly one.
func (s *byteSet) only() (byte, bool) {
	count, at := 0, 0
	for i, w := range s {
		if w != 0 {
			count += bits.OnesCount64(w)
			at = i*64 + bits.TrailingZeros64(w)
		}
	}
	return byte(at), count == 1
}

func (s *byteSet) union(o *byteSet) {
	for i := range s {
		s[i] |= o[i]
	}
}

func (s *byteSet) invert() {
	for i := range s {
		s[i] = ^s[i]
	}
}

// The classes of the Lua 5.1 manual (§5.4.1), in the C locale: only
// ASCII letters are letters.
var letterClasses = func() map[byte]*byteSet {
	sets := map[byte]*byteSet{}
	def := func(letter byte, in func(c byte) bool) {
		var s byteSet
		for c := 0; c < 256; c++ {
			if in(byte(c)) {
				s.add(byte(c))
			}
		}
		sets[letter] = &s
		neg := s
		neg.invert()
		sets[letter-'a'+'A'] = &neg
	}
	isLower := func(c byte) bool { return c >= 'a' && c <= 'z' }
	isUpper := func(c byte) bool { return c >= 'A' && c <= 'Z' }
	isDigit := func(c byte) bool { return c >= '0' && c <= '9' }
	isAlpha := func(c byte) bool { return isLower(c) || isUpper(c) }
	isAlnum := func(c byte) bool { return isAlpha(c) || isDigit(c) }
	def('a', isAlpha)
	def('c', func(c byte) bool { return c < 32 || c == 127 })
	def('d', isDigit)
	def('l', isLower)
	def('p', func(c byte) bool { return c > 32 && c < 127 && !isAlnum(c) })
	def('s', func(c byte) bool { return c == ' ' || (c >= '\t' && c <= '\r') })
	def('u', isUpper)
	def('w', isAlnum)
	def('x', textutil.IsHexDigit)
	def('z', func(c byte) bool { return c == 0 })
	return sets
}()

// anyByte is ".".
var anyByte = func() *byteSet {
	var s byteSet
	s.invert()
	return &s
}()

// escapedClass is the set "%c" stands for: a letter class, or c itself
// for any other character (including letters without a class, as Lua
// does: "%q" is "q").
func escapedClass(c byte) *byteSet {
	if s, ok := letterClasses[c]; ok {
		return s
	}
	return &singletons[c]
}
