package auth

import (
	"hash/maphash"
	"strconv"
	"sync"
	"time"
)

// Holding a login: while no backend is eligible, nginx may be told
// "Auth-Status: WAIT" with "Auth-Wait: N"; it then keeps the client waiting
// N seconds and sends the same auth request again. nginx bounds none of
// this itself (it re-asks as long as the answer is WAIT, and it does not
// count the rounds: Auth-Login-Attempt only grows when the client sends a
// new login command), and the repeated request carries no session id. So
// backline recognises a held login by its protocol, user, client address
// and attempt number, and remembers when it was first held.

// holdMaxEntries bounds the logins held at once; beyond it a login gets
// today's tempfail rather than growing the table.
const holdMaxEntries = 10000

// holdVerdict is what one held request is answered.
type holdVerdict int

const (
	// holdWait: answer WAIT, the login is still within no_backend_hold.
	holdWait holdVerdict = iota
	// holdExpired: the hold is used up; answer the tempfail.
	holdExpired
	// holdFull: too many logins held; answer the tempfail.
	holdFull
)

// holdLabel names a verdict in the log line and the metric.
func (v holdVerdict) String() string {
	switch v {
	case holdWait:
		return "wait"
	case holdExpired:
		return "expired"
	}
	return "full"
}

type holdEntry struct {
	first, last time.Time
}

// holdTracker remembers the logins being held. Keys are seeded hashes, so
// the table holds no user names and a fixed size per login.
type holdTracker struct {
	hold time.Duration
	// stale ends a login's entry when nginx has not asked about it for this
	// long: its client went away or was answered. Far longer than one
	// Auth-Wait plus an answer, so a login still waiting is never taken
	// for a new one (that would hold it without end).
	stale time.Duration
	limit int
	seed  maphash.Seed

	mu      sync.Mutex
	entries map[uint64]holdEntry
	// swept is when a full table was last swept: at most one sweep per
	// holdSweepEvery, or every new login while the table is full of live
	// entries (a flood of made-up users) would walk all of it under mu.
	swept time.Time
}

// holdSweepEvery spaces the sweeps of a full table.
const holdSweepEvery = time.Second

// newHoldTracker returns nil when hold is off.
func newHoldTracker(hold time.Duration, waitSeconds int) *holdTracker {
	if hold <= 0 || waitSeconds < 1 {
		return nil
	}
	wait := time.Duration(waitSeconds) * time.Second
	return &holdTracker{
		hold:    hold,
		stale:   2*wait + time.Minute,
		limit:   holdMaxEntries,
		seed:    maphash.MakeSeed(),
		entries: map[uint64]holdEntry{},
	}
}

// key identifies a login across nginx's repeated requests. The password is
// not part of it: the same login sends the same one anyway.
func (t *holdTracker) key(req *Request) uint64 {
	var h maphash.Hash
	h.SetSeed(t.seed)
	for _, s := range [...]string{req.Protocol, req.Username, req.ClientIP} {
		_, _ = h.WriteString(s)
		_ = h.WriteByte(0)
	}
	_, _ = h.WriteString(strconv.Itoa(req.AuthLoginAttempt))
	return h.Sum64()
}

// decide says whether the login with key k may wait once more at now.
func (t *holdTracker) decide(k uint64, now time.Time) holdVerdict {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.entries[k]
	if !ok || now.Sub(e.last) > t.stale || now.Before(e.first) {
		if !ok && len(t.entries) >= t.limit {
			if d := now.Sub(t.swept); d >= holdSweepEvery || d < 0 {
				t.sweep(now)
				t.swept = now
			}
			if len(t.entries) >= t.limit {
				return holdFull
			}
		}
		e = holdEntry{first: now}
	}
	e.last = now
	t.entries[k] = e
	if now.Sub(e.first) < t.hold {
		return holdWait
	}
	return holdExpired
}

// forget drops a login that got its answer, so the user's next login from
// that address is held afresh.
func (t *holdTracker) forget(k uint64) {
	t.mu.Lock()
	delete(t.entries, k)
	t.mu.Unlock()
}

// held reports whether any login is held: a successful answer needs no
// hash or delete otherwise.
func (t *holdTracker) held() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.entries) > 0
}

// sweep drops stale entries; the caller holds mu.
func (t *holdTracker) sweep(now time.Time) {
	for k, e := range t.entries {
		if now.Sub(e.last) > t.stale {
			delete(t.entries, k)
		}
	}
}
