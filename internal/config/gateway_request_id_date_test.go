package config

import (
	"strings"
	"testing"
)

// Date frames an answer's freshness: an id in it would make the gateway's
// answers carry two Date fields on the plain lane (its own and the id)
// and break caches on the map path. It is refused like the framing fields.
func TestRequestIDHeaderCannotBeDate(t *testing.T) {
	for _, key := range []string{"client_header", "backend_header"} {
		errs := parseErrors(t, "gateway:\n  address: 127.0.0.1:18999\n  request_id:\n    "+key+": date\n  endpoints: []\n")
		if len(errs) != 1 || !strings.Contains(errs[0], "gateway.request_id."+key) || !strings.Contains(errs[0], "cannot carry the request id") {
			t.Fatalf("%s: errors %q", key, errs)
		}
	}
}
