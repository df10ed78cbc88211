package gateway

import "strings"

// listFromRight walks a header's comma-separated list from its last
// element to its first, as X-Forwarded-For, X-Forwarded-Proto and
// X-Forwarded-Host are read: the nearest proxy's element is the last.
// The lines of a field are one list (RFC 9110 5.3). Elements come as
// written, spaces included; an empty one (",,", an empty line) is an
// element like any other, so a read by position never skips it. It does
// not allocate, and reads only as far as its caller asks.
type listFromRight struct {
	lines  []string // the lines not yet started, the last one first
	line   string   // what is left of the line being read
	inLine bool
}

func newListFromRight(lines []string) listFromRight {
	return listFromRight{lines: lines}
}

// next is the element left of the last one returned (the last element
// on the first call); false when there is none.
func (l *listFromRight) next() (string, bool) {
	if !l.inLine {
		n := len(l.lines)
		if n == 0 {
			return "", false
		}
		l.line, l.lines, l.inLine = l.lines[n-1], l.lines[:n-1], true
	}
	if j := strings.LastIndexByte(l.line, ','); j >= 0 {
		elem := l.line[j+1:]
		l.line = l.line[:j]
		return elem, true
	}
	l.inLine = false
	return l.line, true
}
