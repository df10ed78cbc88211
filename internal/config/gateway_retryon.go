package config

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// retry_on conditions: when a backend with origins offers a request to
// another origin. Only connect_failure applies to any method (nothing was
// sent); the others retry idempotent requests whose body was not read.
const (
	RetryOnConnectFailure = "connect_failure"
	RetryOnReset          = "reset"
	RetryOnTimeout        = "timeout"
	RetryOn502            = "502"
	RetryOn503            = "503"
	RetryOn504            = "504"
)

// RetryOnValues lists the accepted conditions in documentation order.
var RetryOnValues = []string{RetryOnConnectFailure, RetryOnReset, RetryOnTimeout, RetryOn502, RetryOn503, RetryOn504}

// DefaultRetryOn is today's behaviour: a retry only after a failed connect.
var DefaultRetryOn = []string{RetryOnConnectFailure}

// validateRetryOn checks retry_on and fills its default. The list is the
// whole set of conditions: leaving connect_failure out turns that retry off.
func (v *gatewayValidator) validateRetryOn(path string, b *Backend) {
	if !b.Has("retry_on") {
		b.RetryOn = slices.Clone(DefaultRetryOn)
		return
	}
	if len(b.RetryOn) == 0 {
		v.add(path+".retry_on", "must list at least one of %s (leave it out for connect_failure only; retries: 0 turns retries off)", strings.Join(RetryOnValues, ", "))
		return
	}
	seen := map[string]int{}
	for i, raw := range b.RetryOn {
		p := fmt.Sprintf("%s.retry_on[%d]", path, i)
		val := strings.ToLower(raw)
		b.RetryOn[i] = val
		if prev, dup := seen[val]; dup {
			v.add(p, "duplicates retry_on[%d] (%q)", prev, val)
			continue
		}
		seen[val] = i
		if msg := retryOnProblem(val); msg != "" {
			v.add(p, "%s", msg)
		}
	}
}

// retryOnProblem explains a value retry_on does not take; the likely
// mistakes (a status class, other statuses, asking for non-idempotent
// retries) get a reason rather than only the list.
func retryOnProblem(val string) string {
	for _, ok := range RetryOnValues {
		if val == ok {
			return ""
		}
	}
	list := strings.Join(RetryOnValues, ", ")
	upper := strings.ToUpper(val)
	switch {
	case val == "5xx" || val == "gateway_error" || val == "gateway-error":
		return fmt.Sprintf("%q is not taken: list the statuses one by one (502, 503, 504); must be one of %s", val, list)
	case len(val) == 3 && val[0] >= '1' && val[0] <= '5' && strings.Trim(val, "0123456789") == "":
		return fmt.Sprintf("status %s is not retried: only 502, 503 and 504 say the origin did not handle the request; must be one of %s", val, list)
	case strings.Contains(val, "idempotent") || upper == http.MethodPost || upper == http.MethodPatch || upper == http.MethodConnect:
		return fmt.Sprintf("%q is not taken: beyond a failed connect only idempotent requests (GET, HEAD, OPTIONS, PUT, DELETE, TRACE) are retried; must be one of %s", val, list)
	}
	return fmt.Sprintf("%q is not a retry condition; must be one of %s", val, list)
}
