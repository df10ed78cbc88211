package gateway

// Random policies: random (weighted random) and p2c (power of two
// choices). Both draw from the candidates as every policy does (best
// health tier, backups only without an admitted primary, panic, origins
// already tried left out), so a retry never draws the origin it tried.
//
// The draws come from originSet.randN: math/rand/v2's top-level
// generator, whose state is per thread (the runtime's ChaCha8), so picks
// on many goroutines share no lock and allocate nothing.

// effectiveWeight is c's weight scaled by its slow start share: the
// weight a draw and p2c's load comparison use. An origin that is not
// ramping has share fullShare, and scaling every weight alike changes
// no draw.
func (c candidate) effectiveWeight() uint64 {
	if c.weight <= 0 {
		return 0 // not drawn (the registry takes weight 0 out before)
	}
	return uint64(c.weight) * uint64(c.share)
}

// totalWeight is the candidates' effective weights summed. At most
// MaxOrigins × MaxOriginWeight × fullShare: no overflow.
func totalWeight(cands []candidate) uint64 {
	var total uint64
	for _, c := range cands {
		total += c.effectiveWeight()
	}
	return total
}

// draw is the index of a candidate drawn with probability its effective
// weight's share of total, leaving out index skip (-1: none; total then
// excludes its weight). total must be above 0.
func (s *originSet) draw(cands []candidate, total uint64, skip int) int {
	r := s.randN(total)
	last := -1
	for i, c := range cands {
		if i == skip {
			continue
		}
		w := c.effectiveWeight()
		if r < w {
			return i
		}
		r -= w
		if w > 0 {
			last = i
		}
	}
	return last // not reached when total is the weights' sum
}

// randomPicker draws an origin at random, weighted: over many requests
// each origin's share is its weight's share (times its slow start share
// while it ramps), with no state shared between picks (HAProxy's balance
// random(1), nginx's random; Caddy's lb_policy random and Envoy's RANDOM
// draw the same way but ignore weights).
type randomPicker struct{}

func (randomPicker) pick(s *originSet, cands []candidate, _ requestKey) *upstreamOrigin {
	if len(cands) == 1 {
		return cands[0].o
	}
	total := totalWeight(cands)
	if total == 0 {
		return cands[s.randN(uint64(len(cands)))].o
	}
	return cands[s.draw(cands, total, -1)].o
}

// p2cPicker is the power of two choices: two different origins drawn at
// random by weight, and the one with fewer requests in flight per unit
// of effective weight wins. That needs no scan of every origin's load
// and no shared position, yet avoids a loaded origin nearly as well as
// least_connections, and unlike it does not send every gateway instance
// (each seeing only its own load) to the same idle origin at once.
//
// A tie goes to the first draw, itself weighted random: with every
// origin idle the picks follow the weights exactly, as random's do.
type p2cPicker struct{}

func (p2cPicker) pick(s *originSet, cands []candidate, _ requestKey) *upstreamOrigin {
	if len(cands) == 1 {
		return cands[0].o
	}
	total := totalWeight(cands)
	if total == 0 {
		return cands[s.randN(uint64(len(cands)))].o
	}
	i := s.draw(cands, total, -1)
	first := cands[i]
	wi := first.effectiveWeight()
	if total == wi {
		return first.o // no other origin has weight to draw
	}
	second := cands[s.draw(cands, total-wi, i)]
	wj := second.effectiveWeight()
	// second.inFlight / wj < first.inFlight / wi, without division.
	if uint64(max(0, second.o.inFlight.Load()))*wi < uint64(max(0, first.o.inFlight.Load()))*wj {
		return second.o
	}
	return first.o
}
