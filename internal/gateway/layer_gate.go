package gateway

// gateLayer keeps requests away from a backend whose health group is not
// eligible (beta_health; an operator's maint, drain or forced down). Only
// backends with a health group have one.
type gateLayer struct {
	group            string
	useWhenUnhealthy bool
	next             layer
}

func (l *gateLayer) roundTrip(c *call) (*exchange, *gatewayError) {
	if !c.g.admitted(l.group, l.useWhenUnhealthy) {
		return nil, newError(kindUnhealthy, errUnhealthy)
	}
	return l.next.roundTrip(c)
}
