package auth

import (
	"context"
	"errors"

	"github.com/backline/backline/internal/state"
)

// A drained backend takes no new users, but the sticky policy keeps the
// users stored for it while it could serve them (health.Backend.Draining):
// their open sessions there (IMAP IDLE) must not be split across two
// mailbox servers, as HAProxy keeps persistent traffic on a drained
// server and Dovecot's director drains with "update host 0". Their entries
// are not refreshed, so they leave within affinity_ttl. Maintenance,
// forced down and unhealthy still move them at their next login.

// drainingIDs are the candidates that are drained but otherwise eligible:
// GetOrSet returns an entry naming one without refreshing it. nil (no
// allocation) when there is none, as outside a drain.
func drainingIDs(cands []Candidate) []string {
	var ids []string
	for i := range cands {
		if cands[i].Draining {
			ids = append(ids, cands[i].ID)
		}
	}
	return ids
}

// keepDrained is the index of the stored backend when it is drained but
// otherwise eligible and keeps its user, or -1. A backup is not kept
// while the pool holds an eligible primary: its users go home, drained or
// not. The primaries a use_all panic adds are not eligible, and moving
// the user to one of them would store a backend that failed its checks.
func keepDrained(cands []Candidate, pool []int, stored string) int {
	for i := range cands {
		c := &cands[i]
		if c.ID != stored {
			continue
		}
		if !c.Draining || (c.Backup && eligiblePrimaryIn(cands, pool)) {
			return -1
		}
		return i
	}
	return -1
}

func eligiblePrimaryIn(cands []Candidate, pool []int) bool {
	for _, j := range pool {
		if !cands[j].Backup && cands[j].Eligible {
			return true
		}
	}
	return false
}

func drainedKeptReason(stored string) string {
	return "stored backend " + stored + " is drained; kept until its affinity expires"
}

// keepDrainedOnly serves a selection with no pool at all (every other
// backend down or out): a user whose stored backend is drained but
// otherwise eligible still goes there. -1 when the user has none.
func (p *stickyPolicy) keepDrainedOnly(in selectInput, proto string, cands []Candidate, sel *Selection) int {
	if drainingIDs(cands) == nil {
		return -1
	}
	stored, ok := p.peek(in, proto)
	if !ok {
		return -1
	}
	j := keepDrained(cands, nil, stored)
	if j >= 0 {
		info := sel.affinityInfo()
		info.Stored, info.Used, info.Reason = stored, true, drainedKeptReason(stored)
		p.count(affDrained, in.dry)
	}
	return j
}

// filterMayDrain reports whether a filter that chose the drained (but
// otherwise eligible) backend id may send this user there: only when it
// is the user's stored backend, which the policy would keep as well. The
// choice is not stored again, so the drain still ends with the affinity.
func (p *stickyPolicy) filterMayDrain(in selectInput, proto, id string, sel *Selection) bool {
	if stored, ok := p.peek(in, proto); !ok || stored != id {
		return false
	}
	info := sel.affinityInfo()
	info.Stored, info.Used = id, true
	info.Reason = "a filter chose the stored backend " + id + ", which is drained; kept until its affinity expires"
	p.count(affDrained, in.dry)
	return true
}

// peek reads the user's stored backend without refreshing it (one round
// trip); false when there is none or the store is unavailable, which is
// counted and logged as in choose.
func (p *stickyPolicy) peek(in selectInput, proto string) (string, bool) {
	if !in.dry && p.skipping() {
		return "", false
	}
	k := state.AffinityKey{User: in.user, Protocol: proto}
	stored, ok, err := p.store.Get(context.Background(), k, 0)
	if err != nil {
		if !errors.Is(err, state.ErrInvalidAffinity) {
			p.trouble(err, in.dry)
		}
		return "", false
	}
	return stored, ok
}
