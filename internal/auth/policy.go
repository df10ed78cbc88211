package auth

import (
	"hash/fnv"
	"strconv"
	"sync/atomic"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
)

// policy picks one of the healthy targets when no filter selected a backend.
type policy interface {
	pick(user string, healthy []health.Backend) *health.TargetInfo
}

func newPolicy(name string) policy {
	switch name {
	case config.PolicyFirst:
		return firstPolicy{}
	case config.PolicyRoundRobin:
		return &roundRobinPolicy{}
	default:
		return userHashPolicy{}
	}
}

type firstPolicy struct{}

func (firstPolicy) pick(_ string, healthy []health.Backend) *health.TargetInfo {
	if len(healthy) == 0 {
		return nil
	}
	return healthy[0].Target
}

// roundRobinPolicy shares one counter across protocols: each protocol's
// list is still walked evenly.
type roundRobinPolicy struct{ next atomic.Uint64 }

func (p *roundRobinPolicy) pick(_ string, healthy []health.Backend) *health.TargetInfo {
	if len(healthy) == 0 {
		return nil
	}
	n := p.next.Add(1) - 1
	return healthy[n%uint64(len(healthy))].Target
}

// userHashPolicy is rendezvous hashing over user and target address: a
// user stays on the same backend while it is healthy, and when a backend
// leaves or returns only its own users move.
type userHashPolicy struct{}

func (userHashPolicy) pick(user string, healthy []health.Backend) *health.TargetInfo {
	var best *health.TargetInfo
	var bestScore uint64
	for _, b := range healthy {
		h := fnv.New64a()
		h.Write([]byte(user))
		h.Write([]byte{0})
		h.Write([]byte(b.Target.Host))
		h.Write([]byte{':'})
		h.Write([]byte(strconv.Itoa(b.Target.Port)))
		score := mix64(h.Sum64())
		if best == nil || score > bestScore {
			best, bestScore = b.Target, score
		}
	}
	return best
}

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
