package gateway

import "encoding/base64"

// authLayer puts the backend's upstream credentials on the request:
// basic_auth (after the modifiers, so it wins over a set Authorization).
type authLayer struct {
	basicAuth template
	next      layer
}

func (l *authLayer) roundTrip(c *call) (*exchange, *gatewayError) {
	if auth := l.basicAuth.eval(c.up.data); auth != "" {
		c.up.req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(auth)))
	}
	return l.next.roundTrip(c)
}
