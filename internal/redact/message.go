package redact

import "strings"

// unsolicitedMarker precedes what net/http's Transport logs (log.Printf,
// the standard logger) when a server writes on an idle keep-alive
// connection: every buffered byte, quoted, a whole response with its
// Set-Cookie lines and body.
const unsolicitedMarker = "Unsolicited response received on idle HTTP channel starting with "

// message redacts a raw HTTP message: each line of the head as HeaderLine
// does (the status line has no colon and stays), the body withheld whole,
// since nothing says what it holds (a token endpoint's answer, say).
func message(raw string) string {
	head, body, hasBody := strings.Cut(raw, "\r\n\r\n")
	lines := strings.Split(head, "\r\n")
	for i, line := range lines {
		lines[i] = HeaderLine(line)
	}
	out := strings.Join(lines, "\r\n")
	if hasBody {
		out += "\r\n\r\n"
		if body != "" {
			out += Placeholder
		}
	}
	return out
}
