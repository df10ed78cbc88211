package state

import (
	"bytes"
	"hash/maphash"
	"strconv"
	"sync"
)

// The client's own bookkeeping commands have replies larger than a small
// limit: COMMAND (which a Cluster client reads to route commands) is
// 0.5-1 MiB on Redis 7 and larger with modules; CLUSTER SHARDS grows with
// the cluster. Refusing them would break the client (a Cluster client
// asks for COMMAND again before every command it cannot route), and no
// nauthilus_redis function can send them. So the guard follows the
// commands written to the connection as well, and the replies to these
// are not limited. Every other reply is, including any the guard cannot
// match to a command (pushes, a stream it could not follow).
var unlimitedCommands = map[string]bool{"COMMAND": true, "CLUSTER": true, "SENTINEL": true, "INFO": true, "HELLO": true}

// maxCommandName is the longest name the tracker keeps; no name in
// unlimitedCommands is longer.
const maxCommandName = 16

// unlimitedName reports whether name is in unlimitedCommands in any ASCII
// case, as Redis matches command names. It runs for every command
// written, so it folds into a buffer on the stack (bytes.ToUpper was an
// allocation per command), and only ASCII letters fold: Unicode case
// mapping made "cluſter" (a long s) CLUSTER, a name Redis does not know.
func unlimitedName(name []byte) bool {
	var upper [maxCommandName]byte
	if len(name) > len(upper) {
		return false
	}
	for i, c := range name {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		upper[i] = c
	}
	return unlimitedCommands[string(upper[:len(name)])] // no allocation: a map index
}

// maxTrackedCommands bounds the queue of commands awaiting replies (a
// pipeline of maxCmdBatch is 128); beyond it tracking stops.
const maxTrackedCommands = 1 << 16

// cmdTracker reads the commands written to a connection (go-redis writes
// each as a RESP array of bulk strings) and queues, per command, whether
// its reply is exempt from the limit and, while some caller registered a
// per-command limit (replyguard_expect.go), the command's hash.
type cmdTracker struct {
	mu     sync.Mutex
	queue  []cmdEntry
	head   int
	broken bool // the writes were not arrays of bulks: no exemptions

	// exp are the guard's registered limits (nil: none are looked for);
	// hashing is set for a command begun while some were registered, mh
	// then hashes it as commandHash does.
	exp     *expectations
	hashing bool
	mh      maphash.Hash

	args    int64 // bulks still due in the current command (0: a new one)
	bulk    int64 // payload bytes (CRLF included) still due
	naming  bool  // the bulk being read is the command's name
	name    []byte
	line    [maxRESPHeader]byte
	lineLen int
}

// written follows b, bytes the client wrote.
func (t *cmdTracker) written(b []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for len(b) > 0 && !t.broken {
		if t.bulk > 0 {
			k := min(int64(len(b)), t.bulk)
			if t.hashing {
				t.mh.Write(b[:min(k, max(t.bulk-2, 0))])
			}
			if t.naming {
				end := min(k, max(t.bulk-2, 0)) // the name, not its CRLF
				if len(t.name)+int(end) <= maxCommandName {
					t.name = append(t.name, b[:end]...)
				} else {
					t.name = append(t.name[:0], '?') // no exempt name is this long
				}
			}
			b = b[k:]
			if t.bulk -= k; t.bulk == 0 {
				t.bulkDone()
			}
			continue
		}
		i := bytes.IndexByte(b, '\n')
		if i < 0 || t.lineLen+i+1 > maxRESPHeader {
			if i < 0 && t.lineLen+len(b) <= maxRESPHeader {
				t.lineLen += copy(t.line[t.lineLen:], b)
				return
			}
			t.fail()
			return
		}
		t.lineLen += copy(t.line[t.lineLen:], b[:i+1])
		b = b[i+1:]
		t.header()
	}
}

func (t *cmdTracker) header() {
	line := t.line[:t.lineLen]
	t.lineLen = 0
	if len(line) < 4 || line[len(line)-2] != '\r' {
		t.fail()
		return
	}
	n, err := strconv.ParseInt(string(line[1:len(line)-2]), 10, 64)
	switch {
	case err != nil || n < 0:
		t.fail()
	case t.args == 0 && line[0] == '*' && n > 0:
		t.args, t.naming, t.name = n, true, t.name[:0]
		// A caller registers before its command is written, so a command
		// begun with nothing registered needs no hash.
		t.hashing = t.exp != nil && t.exp.pending.Load() > 0
		if t.hashing {
			t.mh.SetSeed(t.exp.seed) // also resets
			writeHashLen(&t.mh, n)
		}
	case t.args > 0 && line[0] == '$':
		t.bulk = n + 2
		if t.hashing {
			writeHashLen(&t.mh, n)
		}
	default:
		t.fail()
	}
}

func (t *cmdTracker) bulkDone() {
	if t.naming {
		t.naming = false
	}
	if t.args--; t.args > 0 {
		return
	}
	if len(t.queue)-t.head >= maxTrackedCommands {
		t.fail()
		return
	}
	e := cmdEntry{exempt: unlimitedName(t.name)}
	if t.hashing {
		e.hash, e.hashed = t.mh.Sum64(), true
	}
	t.queue = append(t.queue, e)
}

// cmdEntry is what the tracker knows of one command written.
type cmdEntry struct {
	exempt bool   // its reply is not limited
	hashed bool   // hash is set
	hash   uint64 // commandHash of its arguments
}

func (t *cmdTracker) fail() {
	t.broken, t.queue, t.head = true, nil, 0
}

// replied takes the next command's entry (zero: nothing known).
func (t *cmdTracker) replied() (e cmdEntry) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.broken || t.head == len(t.queue) {
		return cmdEntry{}
	}
	e = t.queue[t.head]
	if t.head++; t.head == len(t.queue) {
		t.queue, t.head = t.queue[:0], 0
	}
	return e
}
