package probe

import "strings"

// The send text of an agent check may hold a token, and an agent may echo
// what it read: in another case, only the token of "AUTH <token>", one
// line of a two-line send, or cut where backline bounds a description.
// So what a reply shows is masked piece by piece, on the raw line before
// it is sanitised or cut: every run of the reply covered by a piece of the
// send text (any ASCII case) becomes <redacted>.

// sendPiece is the length of the pieces looked for: an agent may show at
// most sendPiece-1 bytes of the send text in a row. Shorter pieces would
// mask common words ("heal" of "GET /health" in "health check failed").
const sendPiece = 6

// minWithheldSend: a line of the send text shorter than this is not
// looked for; "ok" would blank half of every reply. A line of
// minWithheldSend..sendPiece-1 bytes is looked for whole.
const minWithheldSend = 4

// sendPieces are the pieces of send to withhold, ASCII-lowercased, by
// their length.
type sendPieces map[int]map[string]bool

func newSendPieces(send string) sendPieces {
	p := sendPieces{}
	lines := strings.FieldsFunc(asciiLower(send), func(r rune) bool { return r == '\r' || r == '\n' })
	for _, line := range lines {
		if len(line) < minWithheldSend {
			continue
		}
		n := min(len(line), sendPiece)
		if p[n] == nil {
			p[n] = map[string]bool{}
		}
		for i := 0; i+n <= len(line); i++ {
			p[n][line[i:i+n]] = true
		}
	}
	return p
}

// withhold replaces every run of s covered by a piece with "<redacted>".
func (p sendPieces) withhold(s string) string {
	if len(p) == 0 {
		return s
	}
	low := asciiLower(s)
	var covered []bool
	for n, set := range p {
		for i := 0; i+n <= len(low); i++ {
			if set[low[i:i+n]] {
				if covered == nil {
					covered = make([]bool, len(s))
				}
				for j := i; j < i+n; j++ {
					covered[j] = true
				}
			}
		}
	}
	if covered == nil {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if !covered[i] {
			b.WriteByte(s[i])
			continue
		}
		b.WriteString("<redacted>")
		for i+1 < len(s) && covered[i+1] {
			i++
		}
	}
	return b.String()
}

// asciiLower lowercases A-Z only, byte by byte, so byte offsets stay
// those of s (invalid UTF-8 included).
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
