package auth

import (
	"math"
	"sync"
	"sync/atomic"

	"github.com/backline/backline/internal/config"
)

// policy picks one of the usable candidates when no filter selected a
// backend. pool holds indexes into cands, in configuration order, and is
// never empty. A dry run (explain) must not change the policy's state: it
// answers what the next real pick would be.
type policy interface {
	name() string
	pick(user string, cands []Candidate, pool []int, dry bool) int
}

func newPolicy(name string) policy {
	switch name {
	case config.PolicyFirst:
		return firstPolicy{}
	case config.PolicyRoundRobin:
		return &roundRobinPolicy{}
	case config.PolicyWeightedRoundRobin:
		return &weightedRoundRobin{current: map[string]wrrValue{}}
	case config.PolicySticky:
		return &stickyPolicy{} // store and TTL: Handler.setupSticky
	default:
		return userHashPolicy{}
	}
}

// weightOf is a candidate's share; an eligible candidate always has at
// least 1 (weight 0 makes a backend ineligible before it gets here).
func weightOf(c *Candidate) int { return max(c.Weight, 1) }

type firstPolicy struct{}

func (firstPolicy) name() string { return config.PolicyFirst }

func (firstPolicy) pick(_ string, _ []Candidate, pool []int, _ bool) int { return pool[0] }

// roundRobinPolicy shares one counter across protocols: each protocol's
// list is still walked evenly.
type roundRobinPolicy struct{ next atomic.Uint64 }

func (*roundRobinPolicy) name() string { return config.PolicyRoundRobin }

func (p *roundRobinPolicy) pick(_ string, _ []Candidate, pool []int, dry bool) int {
	var n uint64
	if dry {
		n = p.next.Load()
	} else {
		n = p.next.Add(1) - 1
	}
	return pool[n%uint64(len(pool))]
}

// weightedRoundRobin is nginx's smooth weighted round robin: every pick
// adds each candidate's weight to its current value, takes the largest and
// subtracts the pool's total from it. Weights 5:1:1 give a a b a c a a, not
// a a a a a b c. State is kept per backend ID; the candidates of different
// protocols are different IDs, so one map serves every protocol.
type weightedRoundRobin struct {
	mu      sync.Mutex
	current map[string]wrrValue
	picks   uint64 // real picks so far
	pruned  uint64 // picks at the last prune
}

// wrrValue is one backend's running value and the pick that last used it.
type wrrValue struct {
	cur  int
	seen uint64
}

// wrrMaxStale bounds the map: IDs removed by a reload would otherwise
// stay. Past it, IDs no pick has used for that many picks are dropped
// (clearing the whole map restarted every backend from zero and sent each
// pick to the first one once more IDs than that were in use).
const wrrMaxStale = 4096

func (*weightedRoundRobin) name() string { return config.PolicyWeightedRoundRobin }

func (p *weightedRoundRobin) pick(_ string, cands []Candidate, pool []int, dry bool) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !dry {
		p.picks++
		p.prune()
	}
	best, bestCur, total := -1, 0, 0
	for _, i := range pool {
		c := &cands[i]
		w := weightOf(c)
		total += w
		cur := p.current[c.ID].cur + w
		if !dry {
			p.current[c.ID] = wrrValue{cur: cur, seen: p.picks}
		}
		if best < 0 || cur > bestCur {
			best, bestCur = i, cur
		}
	}
	if !dry {
		id := cands[best].ID
		p.current[id] = wrrValue{cur: p.current[id].cur - total, seen: p.picks}
	}
	return best
}

// prune drops IDs unused for wrrMaxStale picks, at most once per
// wrrMaxStale picks, so its cost stays constant per pick.
func (p *weightedRoundRobin) prune() {
	if len(p.current) <= wrrMaxStale || p.picks-p.pruned < wrrMaxStale {
		return
	}
	for id, v := range p.current {
		if p.picks-v.seen >= wrrMaxStale {
			delete(p.current, id)
		}
	}
	p.pruned = p.picks
}

// userHashPolicy is weighted rendezvous hashing (highest random weight)
// over the user (without ASCII case) and the backend ID: each candidate draws a uniform u in
// (0,1) from hash(user, id) and scores -weight/ln(u); the highest wins.
// A user's draw for a backend never depends on the other backends, so
// adding, removing, draining or recovering one backend moves only the
// users it gains or loses, and a backend wins a weight/total share. The ID
// (not the address) is hashed, so moving a backend to a new address keeps
// its users, and every instance and restart agrees.
type userHashPolicy struct{}

func (userHashPolicy) name() string { return config.PolicyUserHash }

func (userHashPolicy) pick(user string, cands []Candidate, pool []int, _ bool) int {
	// The name is hashed without ASCII case, as Dovecot's director hashes
	// %Lu: "Alice" and "alice" are one mailbox and must share a backend.
	seed := fnv1aFold(fnvOffset, user)
	seed = fnv1aByte(seed, 0) // "ab"+"c" and "a"+"bc" must differ
	best, bestScore := -1, 0.0
	for _, i := range pool {
		c := &cands[i]
		score := rendezvousScore(seed, c.ID, weightOf(c))
		if best < 0 || score > bestScore {
			best, bestScore = i, score
		}
	}
	return best
}

// rendezvousScore is -weight/ln(u) for u = hash(seed, id) mapped to (0,1).
func rendezvousScore(seed uint64, id string, weight int) float64 {
	h := mix64(fnv1a(seed, id))
	// The top 53 bits give a float in [0,1); +0.5 keeps it off 0 and 1,
	// where ln is -Inf or 0.
	u := (float64(h>>11) + 0.5) / (1 << 53)
	return -float64(weight) / math.Log(u)
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// fnv1a continues a 64-bit FNV-1a hash over s without allocating.
func fnv1a(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

// fnv1aFold is fnv1a over s with ASCII letters lower-cased; names in
// lower case hash as with fnv1a.
func fnv1aFold(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		h ^= uint64(c)
		h *= fnvPrime
	}
	return h
}

func fnv1aByte(h uint64, b byte) uint64 { return (h ^ uint64(b)) * fnvPrime }

// mix64 is a 64-bit finaliser: FNV alone leaves similar inputs with similar
// high bits, which skews rendezvous hashing.
func mix64(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}
