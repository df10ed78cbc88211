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

// A complaint about the proxy's address keeps none of what net/http
// quoted (the config warning names the problem); any other error of the
// environment's proxy function keeps its words.
func TestProxyEnvErrorWithholdsTheQuotedAddress(t *testing.T) {
	got := proxyEnvError(&textError{`invalid proxy address "http://u:pa/ss@proxy:3128": parse "http://u:pa/ss@proxy:3128": invalid port`})
	want := "proxy from the environment (HTTP_PROXY/HTTPS_PROXY): invalid proxy address (value withheld; backline check names the problem)"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	cgi := "refusing to use HTTP_PROXY value in CGI environment; see golang.org/s/cgihttpproxy"
	if got := proxyEnvError(&textError{cgi}); !strings.HasSuffix(got, cgi) {
		t.Errorf("got %q, want it to end in %q", got, cgi)
	}
}
