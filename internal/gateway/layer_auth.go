package gateway

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"time"
)

// authLayer puts the backend's upstream credentials on the request: an
// oauth2 bearer token, then basic_auth (which wins, as in Couper). With
// oauth2, a 401 from the origin drops the token, and the request is sent
// again with a fresh one, up to retries times, when its body can be
// replayed.
type authLayer struct {
	basicAuth template
	hasBasic  bool
	oauth     *oauth2Source // nil without an oauth2 block
	next      layer
}

// maxReplayBody is how much of a request body is held to replay it after a
// 401. A longer body is streamed as usual and the 401 passed through.
const maxReplayBody = 256 << 10

func (l *authLayer) setBasic(c *call, req *http.Request) {
	if !l.hasBasic {
		return
	}
	if auth := l.basicAuth.eval(c.up.data); auth != "" {
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(auth)))
	}
}

func (l *authLayer) roundTrip(c *call) (*exchange, *gatewayError) {
	if l.oauth == nil {
		l.setBasic(c, c.up.req)
		return l.next.roundTrip(c)
	}
	base := c.up.req
	retries := l.oauth.retries
	var pristine *http.Request // the request as it was before the first send
	if retries > 0 {
		replayable, gerr := holdBody(c, base)
		if gerr != nil {
			return nil, gerr
		}
		if replayable {
			pristine = base.Clone(c.ctx)
		}
	}
	req := base
	for attempt := 0; ; attempt++ {
		waitCtx, cancel := c.waitContext()
		token, err := l.oauth.cache.get(waitCtx)
		waited := waitCtx.Err() != nil // before cancel, which sets it
		cancel()
		if err != nil {
			if waited {
				return nil, classify(c.ctx, c.limits.deadline, err)
			}
			return nil, &gatewayError{kind: kindTokenRequest, cause: err}
		}
		req.Header.Set("Authorization", "Bearer "+token)
		l.setBasic(c, req)
		c.up.req = req
		ex, gerr := l.next.roundTrip(c)
		if gerr != nil || ex.resp.StatusCode != http.StatusUnauthorized || attempt >= retries || pristine == nil {
			return ex, gerr
		}
		l.oauth.cache.invalidate(token)
		// A short 401 body is read so the connection can be reused.
		_, _ = io.CopyN(io.Discard, ex.resp.Body, 4<<10)
		ex.done()
		req = pristine.Clone(c.ctx)
		if pristine.GetBody != nil {
			if req.Body, err = pristine.GetBody(); err != nil {
				return nil, newError(kindBackend, err)
			}
		}
	}
}

// holdBody makes req's body replayable: a body with GetBody already is
// (form modifiers, request blocks); another is read into memory when it is
// at most maxReplayBody long. A longer one is sent as it comes.
func holdBody(c *call, req *http.Request) (replayable bool, _ *gatewayError) {
	if req.Body == nil || req.Body == http.NoBody || req.GetBody != nil {
		return true, nil
	}
	orig := req.Body
	buf, err := io.ReadAll(io.LimitReader(orig, maxReplayBody+1))
	if err != nil {
		orig.Close()
		// As classify: a passed deadline first (net/http also ends the
		// request's context when the read fails), then the client leaving.
		switch {
		case !c.limits.deadline.IsZero() && !time.Now().Before(c.limits.deadline):
			return false, newError(kindTimeout, errDeadline)
		case c.ctx.Err() != nil:
			return false, newError(kindClientGone, errClientCancel)
		}
		return false, newError(kindClientRequest, &clientError{fmt.Errorf("reading the request body: %w", err)})
	}
	if len(buf) > maxReplayBody {
		req.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(buf), orig), orig}
		return false, nil
	}
	orig.Close()
	req.Body = io.NopCloser(bytes.NewReader(buf))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf)), nil }
	return true, nil
}
