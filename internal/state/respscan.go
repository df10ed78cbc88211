package state

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// respScanner follows the structure of a stream of RESP2/RESP3 replies
// without building them: it finds where each top-level reply ends and
// what it would cost the client to materialize, so ReplyGuard can refuse
// a reply before go-redis allocates it. It reads headers only; a bulk
// payload is skipped by its declared length.
type respScanner struct {
	// limit is the cost at which the current reply is refused (taken at
	// the reply's first byte); 0 or less: no limit.
	limit int64
	cost  int64
	// stack holds, per open aggregate, how many children are still due.
	stack []int64
	// bulk is the payload bytes (CRLF included) of the bulk string being
	// passed; 0: the next byte starts a header line.
	bulk int64
	// head keeps a header line's first bytes (a length header is short; a
	// simple string's text is not needed); headLen counts the whole line.
	head    [maxRESPHeader]byte
	headLen int64
	// refused is set once the current reply is over the limit; declared
	// is the size that made it so (cost so far or a declared length).
	refused  bool
	declared int64
}

const (
	// maxRESPHeader bounds a length header ("$", "*", ...): a sign, 19
	// digits, CRLF. Longer is a protocol error.
	maxRESPHeader = 24
	// replyElementCost is what one element costs the client besides its
	// bytes: go-redis keeps each as a string or an interface value in a
	// slice or map (16-48 bytes), and Lua then makes a table slot of it.
	replyElementCost = 48
)

var errRESPProtocol = errors.New("redis reply guard: not a RESP reply")

// feed passes bytes of b until the current top-level reply ends (ended) or
// b is used up, and returns how many it used.
func (s *respScanner) feed(b []byte) (n int, ended bool, err error) {
	for n < len(b) {
		if s.bulk > 0 {
			k := min(int64(len(b)-n), s.bulk)
			n += int(k)
			s.bulk -= k
			s.charge(k)
			if s.bulk == 0 && s.leafDone() {
				return n, true, nil
			}
			continue
		}
		i := bytes.IndexByte(b[n:], '\n')
		if i < 0 {
			s.collect(b[n:])
			return len(b), false, nil
		}
		s.collect(b[n : n+i+1])
		n += i + 1
		done, err := s.header()
		if err != nil {
			return n, false, err
		}
		if done {
			return n, true, nil
		}
	}
	return n, false, nil
}

func (s *respScanner) collect(b []byte) {
	if s.headLen < maxRESPHeader {
		copy(s.head[s.headLen:], b)
	}
	s.headLen += int64(len(b))
	s.charge(int64(len(b)))
}

// charge adds to the reply's cost and refuses it when over the limit.
func (s *respScanner) charge(n int64) {
	s.cost = addSat(s.cost, n)
	s.check(s.cost)
}

// check refuses the reply if it would come to size.
func (s *respScanner) check(size int64) {
	if s.limit > 0 && size > s.limit && !s.refused {
		s.refused, s.declared = true, size
	}
}

// header handles one complete line; done is set when it ends the reply.
func (s *respScanner) header() (done bool, err error) {
	line := s.head[:min(s.headLen, maxRESPHeader)]
	long := s.headLen > maxRESPHeader
	s.headLen = 0
	if len(line) < 3 || (!long && line[len(line)-2] != '\r') {
		return false, errRESPProtocol
	}
	s.charge(replyElementCost)
	switch line[0] {
	case '+', '-', ':', '_', ',', '#', '(':
		return s.leafDone(), nil
	}
	if long {
		return false, fmt.Errorf("%w: a %q header longer than %d bytes", errRESPProtocol, line[0], maxRESPHeader)
	}
	num, err := strconv.ParseInt(string(line[1:len(line)-2]), 10, 64)
	if err != nil || num < -1 {
		return false, fmt.Errorf("%w: bad length in a %q header", errRESPProtocol, line[0])
	}
	switch line[0] {
	case '$', '=', '!':
		if num == -1 { // RESP2's null bulk string
			if line[0] != '$' {
				return false, fmt.Errorf("%w: negative length", errRESPProtocol)
			}
			return s.leafDone(), nil
		}
		s.check(addSat(s.cost, num+2))
		s.bulk = num + 2
		return false, nil
	case '*', '~', '>', '%', '|':
		children := num
		switch line[0] {
		case '%':
			children = mulSat(num, 2)
		case '|': // attributes, then the value they describe
			children = addSat(mulSat(num, 2), 1)
		}
		if num == -1 { // RESP2's null array
			if line[0] != '*' {
				return false, fmt.Errorf("%w: negative length", errRESPProtocol)
			}
			return s.leafDone(), nil
		}
		if children == 0 {
			return s.leafDone(), nil
		}
		s.check(addSat(s.cost, mulSat(children, replyElementCost)))
		s.stack = append(s.stack, children)
		return false, nil
	}
	return false, fmt.Errorf("%w: unknown type %q", errRESPProtocol, line[0])
}

// leafDone counts a finished element toward the aggregates it is in and
// reports whether that finished the top-level reply.
func (s *respScanner) leafDone() bool {
	for len(s.stack) > 0 {
		top := len(s.stack) - 1
		s.stack[top]--
		if s.stack[top] > 0 {
			return false
		}
		s.stack = s.stack[:top]
	}
	return true
}

// next readies the scanner for the following top-level reply.
func (s *respScanner) next(limit int64) {
	s.limit, s.cost, s.refused, s.declared = limit, 0, false, 0
	s.stack = s.stack[:0]
}

func addSat(a, b int64) int64 {
	if b > 0 && a > 1<<62-b {
		return 1 << 62
	}
	return a + b
}

func mulSat(a, b int64) int64 {
	if a == 0 || b == 0 {
		return 0
	}
	if a > (1<<62)/b {
		return 1 << 62
	}
	return a * b
}
