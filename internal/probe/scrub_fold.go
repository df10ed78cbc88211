package probe

import "strings"

// replaceFold replaces every occurrence of secret in line, ASCII letters
// matched in either case: a server that upper-cases what it echoes
// ("-ERR UNKNOWN USER S3CRET") gives the secret away as surely as one
// that echoes it as sent. Non-ASCII bytes match exactly, so offsets stay
// byte offsets of line.
func replaceFold(line, secret, with string) string {
	if secret == "" || len(secret) > len(line) {
		return line
	}
	var b strings.Builder
	last := 0
	for i := 0; i+len(secret) <= len(line); {
		if equalFoldASCII(line[i:i+len(secret)], secret) {
			if b.Len() == 0 && last == 0 {
				b.Grow(len(line))
			}
			b.WriteString(line[last:i])
			b.WriteString(with)
			i += len(secret)
			last = i
			continue
		}
		i++
	}
	if last == 0 {
		return line
	}
	b.WriteString(line[last:])
	return b.String()
}

func equalFoldASCII(a, b string) bool {
	for i := 0; i < len(a); i++ {
		if lowerASCII(a[i]) != lowerASCII(b[i]) {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// clipScrubbed is text cut to limit bytes with no piece of a secret left
// at the cut: a secret running across it is scrubbed whole when it is in
// text, and a leading part of one that ends text is withheld too (the
// rest was beyond the cut), so clipping never leaves a prefix of it.
func (s *session) clipScrubbed(text string, limit int) string {
	if len(text) <= limit {
		return text
	}
	return s.withholdSecretStart(text[:limit])
}

// withholdSecretStart replaces the end of text when it is the start of a
// secret (any case): text stops there (a cut, or the server closed in the
// middle of an echo) and the rest of the secret never came.
func (s *session) withholdSecretStart(text string) string {
	for _, secret := range s.secrets {
		for k := min(len(secret)-1, len(text)); k > 0; k-- {
			if equalFoldASCII(text[len(text)-k:], secret[:k]) {
				text = text[:len(text)-k] + redacted
				break
			}
		}
	}
	return text
}
