package gateway

import "github.com/backline/backline/internal/config"

// picker is a load_balancing policy: it chooses the origin of one attempt
// from cands, never empty (the best health tier, origins already tried
// left out; origins.go). key is the request's hash key, looked up once
// per request by balanceLayer (only hash policies read it). In layer
// order a pick runs in balanceLayer, after the gate, the queues and the
// credentials, right before sendLayer.
type picker interface {
	pick(s *originSet, cands []candidate, key requestKey) *upstreamOrigin
}

// choose runs s's picker. The calls are concrete, not through the
// interface, so cands (on balanceLayer's stack) does not escape to the
// heap on every request.
func (s *originSet) choose(cands []candidate, key requestKey) *upstreamOrigin {
	switch p := s.pick.(type) {
	case weightedPicker:
		return p.pick(s, cands, key)
	case leastConnPicker:
		return p.pick(s, cands, key)
	case rendezvousPicker:
		return p.pick(s, cands, key)
	case randomPicker:
		return p.pick(s, cands, key)
	case p2cPicker:
		return p.pick(s, cands, key)
	}
	return roundRobinPicker{}.pick(s, cands, key)
}

// newPicker is the picker of b's load_balancing and, for a hash policy,
// where its key comes from.
func newPicker(b *config.Backend) (picker, hashKeySource) {
	switch b.LoadBalancing {
	case config.BalanceWeighted:
		return weightedPicker{}, nil
	case config.BalanceLeastConnections:
		return leastConnPicker{}, nil
	case config.BalanceRandom:
		return randomPicker{}, nil
	case config.BalanceP2C:
		return p2cPicker{}, nil
	case config.BalanceClientIPHash, config.BalanceHeaderHash, config.BalanceCookieHash, config.BalanceURIHash:
		return rendezvousPicker{}, newHashKeySource(b)
	}
	return roundRobinPicker{}, nil
}

// ramping reports whether some candidate is in its slow start.
func ramping(cands []candidate) bool {
	for _, c := range cands {
		if c.share < fullShare {
			return true
		}
	}
	return false
}

// roundRobinPicker takes each candidate in turn, weights ignored. While
// an origin ramps up (slow_start), the turns are weighted by the shares
// instead, so the ramping origin gets its share of one turn.
type roundRobinPicker struct{}

func (roundRobinPicker) pick(s *originSet, cands []candidate, _ requestKey) *upstreamOrigin {
	if ramping(cands) {
		return s.smoothWeighted(cands, func(c candidate) int { return c.share })
	}
	return cands[(s.next.Add(1)-1)%uint64(len(cands))].o
}

// weightedPicker is nginx's smooth weighted round robin over the weights,
// each scaled by its slow start share.
type weightedPicker struct{}

func (weightedPicker) pick(s *originSet, cands []candidate, _ requestKey) *upstreamOrigin {
	return s.smoothWeighted(cands, func(c candidate) int { return c.weight * c.share })
}

// leastConnPicker takes the origin with the fewest requests in flight;
// ties go round robin, so an idle backend still spreads its load. While
// an origin ramps up, it is Envoy's least request with weights instead:
// smooth weighted round robin over share / (in flight + 1), so the
// ramping origin gets its share even when every origin is idle (a plain
// "fewest in flight, scaled" would leave it idle until the ramp ends).
type leastConnPicker struct{}

func (leastConnPicker) pick(s *originSet, cands []candidate, _ requestKey) *upstreamOrigin {
	if ramping(cands) {
		return s.smoothWeighted(cands, func(c candidate) int {
			return max(1, c.share*fullShare/int(c.o.inFlight.Load()+1))
		})
	}
	start := int((s.next.Add(1) - 1) % uint64(len(cands)))
	var best *upstreamOrigin
	var bestN int64
	for k := range cands {
		o := cands[(start+k)%len(cands)].o
		if n := o.inFlight.Load(); best == nil || n < bestN {
			best, bestN = o, n
		}
	}
	return best
}

// smoothWeighted is nginx's smooth weighted round robin: each pick adds
// every candidate's weight to its current value, takes the largest and
// subtracts the total from it. Weights 5:1:1 give a a b a c a a, never a
// burst, and exactly the weights' shares over every full cycle. Scaling
// every weight alike (a share of fullShare each) gives the same sequence.
func (s *originSet) smoothWeighted(cands []candidate, weight func(candidate) int) *upstreamOrigin {
	s.wrrMu.Lock()
	defer s.wrrMu.Unlock()
	total := 0
	var best *upstreamOrigin
	for _, c := range cands {
		w := weight(c)
		c.o.current += w
		total += w
		if best == nil || c.o.current > best.current {
			best = c.o
		}
	}
	best.current -= total
	return best
}
