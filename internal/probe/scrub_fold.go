package probe

import "strings"

// replaceFold replaces every occurrence of secret in line, ASCII letters
// matched in either case: a server that upper-cases what it echoes
// ("-ERR UNKNOWN USER S3CRET") gives the secret away as surely as one
// that echoes it as sent. Non-ASCII bytes match exactly, so offsets in
// the folded copy are offsets in line. The search is strings.Index's, so
// a long line against a long secret stays linear.
func replaceFold(line, secret, with string) string {
	if secret == "" || len(secret) > len(line) {
		return line
	}
	folded, want := lowerASCIIString(line), lowerASCIIString(secret)
	i := strings.Index(folded, want)
	if i < 0 {
		return line
	}
	var b strings.Builder
	b.Grow(len(line))
	last := 0
	for i >= 0 {
		b.WriteString(line[last : last+i])
		b.WriteString(with)
		last += i + len(secret)
		i = strings.Index(folded[last:], want)
	}
	b.WriteString(line[last:])
	return b.String()
}

// lowerASCIIString lowers ASCII letters only: the result has the same
// length and byte offsets as s.
func lowerASCIIString(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				b[j] = lowerASCII(b[j])
			}
			return string(b)
		}
	}
	return s
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
		if k := secretStartAtEnd(text, secret); k > 0 {
			text = text[:len(text)-k] + redacted
		}
	}
	return text
}

// secretStartAtEnd is the length of the longest proper prefix of secret
// that text ends with, ASCII case folded: a KMP scan, linear in both
// (a quadratic one would let a long secret cost seconds a line).
func secretStartAtEnd(text, secret string) int {
	if len(secret) < 2 || text == "" {
		return 0
	}
	p := lowerASCIIString(secret[:len(secret)-1])
	if len(text) > len(p) {
		text = text[len(text)-len(p):]
	}
	text = lowerASCIIString(text)
	fail := make([]int, len(p))
	for i, k := 1, 0; i < len(p); i++ {
		for k > 0 && p[i] != p[k] {
			k = fail[k-1]
		}
		if p[i] == p[k] {
			k++
		}
		fail[i] = k
	}
	k := 0
	for i := 0; i < len(text); i++ {
		for k > 0 && (k == len(p) || text[i] != p[k]) {
			k = fail[k-1]
		}
		if k < len(p) && text[i] == p[k] {
			k++
		}
	}
	return k
}
