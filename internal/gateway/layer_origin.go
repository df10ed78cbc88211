package gateway

// originLayer decides where the request goes: the destination (origin,
// Host header, TLS server name) and the pool for it.
//
// Extension point for several origins: a balancing layer replaces this one
// in buildLayers. It sets c.dest and c.transport before calling next and
// may call next again on another origin (after a connect failure: a
// *dialError, *proxyHeaderError or *handshakeError from next (see
// isConnectFailure); with retry_on, after a silent reset, a timeout or
// a 502/503/504 for idempotent requests). It runs after the queues, so a
// least-connections choice sees the requests really in flight.
type originLayer struct {
	next layer
}

func (l *originLayer) roundTrip(c *call) (*exchange, *gatewayError) {
	dest, err := c.g.destination(c.bv, c.up)
	if err != nil {
		return nil, newError(kindConfiguration, blameRequest(err, c.bv.origin.usesRequest()))
	}
	t, err := c.bv.rt.transports.get(dest.key, c.proxyClient())
	if err != nil {
		return nil, newError(kindConfiguration, err)
	}
	c.dest, c.transport = dest, t
	return l.next.roundTrip(c)
}
