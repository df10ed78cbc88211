package gateway

import "net/http"

// validator checks a backend's requests before they are sent and its
// responses before anything else sees them (the openapi block). A backend
// without one has no validateLayer.
//
// Extension point: set backendView.validator when compiling the backend
// block (backend.go); validateLayer calls it. The request is complete but
// for what originLayer and sendLayer add: scheme, host, X-Forwarded-For.
type validator interface {
	// request returns an error to refuse the request (nothing is sent).
	request(c *call, req *http.Request) *gatewayError
	// response returns an error to replace the response; the layer then
	// closes the response.
	response(c *call, resp *http.Response) *gatewayError
}

type validateLayer struct {
	v    validator
	next layer
}

func (l *validateLayer) roundTrip(c *call) (*exchange, *gatewayError) {
	if gerr := l.v.request(c, c.up.req); gerr != nil {
		return nil, gerr
	}
	ex, gerr := l.next.roundTrip(c)
	if gerr != nil {
		return nil, gerr
	}
	if gerr := l.v.response(c, ex.resp); gerr != nil {
		ex.done()
		return nil, gerr
	}
	return ex, nil
}
