package gateway

import "net/http"

// modifyLayer applies the backend's own request attributes on the way out
// (path, header/query/form modifiers, path_prefix) and its response
// attributes on the way back (response header modifiers, then
// set_response_status). It is the one place a backend block changes the
// request or the response; endpoint and proxy modifiers ran before it
// (endpoint.go) and run after it (handler.go).
type modifyLayer struct {
	next layer
}

func (l *modifyLayer) roundTrip(c *call) (*exchange, *gatewayError) {
	bv, up := c.bv, c.up
	out, rd := up.req, up.data
	if bv.hasPath {
		// The rules apply to the value; the /** match is the client's
		// path, already free of dot segments, and "?" or "#" in it are
		// data that the request line escapes.
		p := bv.path.eval(rd)
		if err := checkPath("path", p); err != nil {
			return nil, newError(kindConfiguration, blameRequest(err, bv.path.usesRequest()))
		}
		out.URL.Path, out.URL.RawPath = expandWildcard(p, up.rest, up.wildcard), ""
	}
	bv.mods.request.apply(out.Header, rd)
	bv.mods.query.applyQuery(out.URL, rd)
	if warning, err := bv.mods.form.applyForm(out, rd); err != nil {
		if c.ctx.Err() != nil {
			return nil, newError(kindClientGone, errClientCancel)
		}
		return nil, newError(kindBackend, err)
	} else if warning != "" {
		c.g.logger.Warn("gateway form modifiers skipped", "backend", bv.rt.name, "error_type", "evaluation", "reason", warning)
	}
	if bv.hasPrefix {
		// The path it goes in front of was checked already (or is the
		// client's, free of dot segments), so joining cannot climb out.
		prefix := bv.pathPrefix.eval(rd)
		if err := checkPath("path_prefix", prefix); err != nil {
			return nil, newError(kindConfiguration, blameRequest(err, bv.pathPrefix.usesRequest()))
		}
		out.URL.Path, out.URL.RawPath = joinPrefix(prefix, out.URL.Path), ""
	}

	ex, gerr := l.next.roundTrip(c)
	if gerr != nil {
		return nil, gerr
	}
	resp := ex.resp
	bv.mods.response.apply(resp.Header, rd)
	if bv.setStatus != 0 && resp.StatusCode != http.StatusSwitchingProtocols {
		resp.StatusCode = bv.setStatus
		if bv.setStatus == http.StatusNoContent && !bv.warned204.Swap(true) {
			// Once per backend: the setting, not each response, is the news.
			c.g.logger.Warn("gateway set_response_status 204 drops the response body", "backend", bv.rt.name)
		}
	}
	return ex, nil
}
