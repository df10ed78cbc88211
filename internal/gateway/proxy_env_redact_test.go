package gateway

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// net/http quotes an HTTP_PROXY it cannot parse ("invalid proxy address
// %q: %v"; the environment is read once per process, so the test builds
// the error in its wording): the gateway's error keeps the cause and says
// where the value came from, never the password, even one net/url cannot
// parse (an unencoded '/', '#' or space).
func TestProxyEnvErrorHidesThePassword(t *testing.T) {
	for _, raw := range []string{
		"http://user:pa/ss#SECRET@proxy:3128",
		"http://u:SECRET@proxy:x",
		"http://u:pa ssSECRET@proxy:3128",
	} {
		_, perr := url.Parse(raw)
		if perr == nil {
			t.Fatalf("%q parses", raw)
		}
		err := &textError{"invalid proxy address " + strconv.Quote(raw) + ": " + perr.Error()}
		got := proxyEnvError(err)
		if strings.Contains(got, "SECRET") {
			t.Errorf("%q: password in %q", raw, got)
		}
		if !strings.HasPrefix(got, "proxy from the environment") {
			t.Errorf("%q: %q does not say where the value came from", raw, got)
		}
	}
}

type textError struct{ s string }

func (e *textError) Error() string { return e.s }
