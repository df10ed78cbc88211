package gateway

import (
	"net/http"

	"github.com/backline/backline/internal/config"
)

// retryConds is a backend's retry_on as a set: which failed attempts
// balanceLayer offers to another origin.
type retryConds uint8

const (
	retryConnect retryConds = 1 << iota
	retryReset
	retryTimeout
	retry502
	retry503
	retry504
)

// retryReasons are the metric's reason label and retry_on's spelling.
var retryReasons = map[retryConds]string{
	retryConnect: config.RetryOnConnectFailure,
	retryReset:   config.RetryOnReset,
	retryTimeout: config.RetryOnTimeout,
	retry502:     config.RetryOn502,
	retry503:     config.RetryOn503,
	retry504:     config.RetryOn504,
}

func parseRetryOn(list []string) retryConds {
	if list == nil {
		return retryConnect // a backend built without validation: today's default
	}
	var out retryConds
	for _, v := range list {
		for c, name := range retryReasons {
			if v == name {
				out |= c
			}
		}
	}
	return out
}

// retryCause is why an attempt might go to another origin (0: it may
// not). A failed connect sent nothing, so it is the one cause any method
// may retry on; the others need an idempotent method (checked by the
// caller). A timeout counts only before the origin sent a byte, and a
// reset only when the origin closed without a byte of an answer.
func (s retryConds) cause(c *call, ex *exchange, gerr *gatewayError) retryConds {
	if gerr == nil {
		var st retryConds
		switch ex.resp.StatusCode {
		case http.StatusBadGateway:
			st = retry502
		case http.StatusServiceUnavailable:
			st = retry503
		case http.StatusGatewayTimeout:
			st = retry504
		}
		return s & st
	}
	switch {
	case isConnectFailure(gerr):
		if s&retryConnect != 0 {
			return retryConnect
		}
		if timedOut(gerr) { // a connect timeout sent nothing either
			return s & retryTimeout
		}
	case !c.unanswered:
	case gerr.kind == kindTimeout:
		return s & retryTimeout
	case gerr.kind == kindBackend && !timedOut(gerr):
		return s & retryReset
	}
	return 0
}

// retryIdempotent: the methods RFC 9110 §9.2.2 calls idempotent, which
// retry_on's conditions other than connect_failure may send twice.
func retryIdempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete, http.MethodTrace:
		return true
	}
	return false
}

// maxRetriedBody is the most of a retried answer's body read so its
// connection can serve again; a longer one (or one still on its way)
// closes the connection instead.
const maxRetriedBody = 4 << 10

// dropAnswer finishes an answer that is being retried: a short body the
// h1 client already holds is read so the connection goes back to the
// pool, then the body is closed (which closes the connection otherwise:
// waiting on a slow origin's body would eat the retry's time) and the
// inner layers' cleanups run.
func dropAnswer(ex *exchange) {
	if b, ok := ex.resp.Body.(interface{ discardBuffered(int64) }); ok {
		b.discardBuffered(maxRetriedBody)
	}
	ex.done()
}
