package gateway

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
)

// A plain request to a destination the lane's writer does not serve (an
// h2c origin, an https origin through the same h1 pool, retries between
// origins of those): upstream.leavePlain rebuilds the header map, and
// what arrives is what the header-map path sends.

// plHTTPOrigin records requests as net/http's server read them.
type plHTTPOrigin struct {
	mu   sync.Mutex
	seen []string
	url  string
}

func (o *plHTTPOrigin) handler(status int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var lines []string
		for k, vs := range r.Header {
			for _, v := range vs {
				if plGatewayID.MatchString(v) {
					v = "<id>"
				}
				lines = append(lines, k+": "+v)
			}
		}
		slices.Sort(lines)
		o.mu.Lock()
		o.seen = append(o.seen, fmt.Sprintf("%s %s %s host=%s\n%s\n%s", r.Proto, r.Method, r.RequestURI, r.Host, strings.Join(lines, "\n"), body))
		o.mu.Unlock()
		w.Header().Add("Set-Cookie", "a=1")
		w.Header().Add("Set-Cookie", "b=2")
		w.Header().Set("X-Origin", "o")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, "answer")
	}
}

func (o *plHTTPOrigin) requests() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return strings.Join(o.seen, "\n---\n")
}

func newPlHTTPOrigin(t *testing.T, kind string, status int) *plHTTPOrigin {
	t.Helper()
	o := &plHTTPOrigin{}
	s := httptest.NewUnstartedServer(o.handler(status))
	switch kind {
	case "h2c":
		s.Config.Protocols = new(http.Protocols)
		s.Config.Protocols.SetUnencryptedHTTP2(true)
		s.Start()
	case "https":
		s.StartTLS()
	default:
		s.Start()
	}
	t.Cleanup(s.Close)
	o.url = s.URL
	return o
}

func TestPlainLaneLeavesForOtherTransports(t *testing.T) {
	requests := []struct {
		name, raw string
		methods   []string
	}{
		{"get", plGet("Zz: 1\r\nAa: 2\r\nX-Forwarded-For: 10.0.0.1\r\nX-Forwarded-Proto: https\r\nX_Forwarded_Host: e\r\nAuthorization: x\r\nCookie: c\r\nUser-Agent: ua\r\nConnection: keep-alive\r\nKeep-Alive: 1\r\n"), nil},
		{"post", "POST /p HTTP/1.1\r\nHost: gw.test\r\nExpect: 100-continue\r\nContent-Length: 4\r\nCouper-Request-Id: forged\r\n\r\nbody", []string{"POST"}},
		{"close", plGet("Connection: close\r\nClose: 1\r\nTe: trailers\r\n"), nil},
		{"http/1.0", "GET /p HTTP/1.0\r\nX-A: 1\r\n\r\n", nil},
	}
	settings := []struct {
		name, kind, backend, gateway string
		origins                      []int // statuses; more than one: an origins list
	}{
		{name: "h2c", kind: "h2c", backend: "      http2_prior_knowledge: true\n", origins: []int{200}},
		{name: "h2c trusted", kind: "h2c", backend: "      http2_prior_knowledge: true\n", gateway: "  trusted_proxies: [127.0.0.1]\n", origins: []int{200}},
		{name: "h2c retries", kind: "h2c", backend: "      http2_prior_knowledge: true\n      retry_on: [503]\n", origins: []int{503, 200}},
		{name: "https", kind: "https", backend: "      disable_certificate_validation: true\n", origins: []int{200}},
		{name: "https retries", kind: "https", backend: "      disable_certificate_validation: true\n      retry_on: [503]\n", gateway: "  trusted_proxies: [127.0.0.1]\n", origins: []int{503, 200}},
	}
	for _, s := range settings {
		for _, r := range requests {
			t.Run(s.name+"/"+r.name, func(t *testing.T) {
				run := func(off bool) (string, string) {
					var os []*plHTTPOrigin
					var b strings.Builder
					b.WriteString("definitions:\n  backends:\n    api:\n")
					if len(s.origins) == 1 {
						o := newPlHTTPOrigin(t, s.kind, s.origins[0])
						os = append(os, o)
						fmt.Fprintf(&b, "      origin: %s\n", o.url)
					} else {
						b.WriteString("      origins:\n")
						for _, st := range s.origins {
							o := newPlHTTPOrigin(t, s.kind, st)
							os = append(os, o)
							fmt.Fprintf(&b, "        - %s\n", o.url)
						}
					}
					b.WriteString(s.backend + "gateway:\n  address: 127.0.0.1:18999\n" + s.gateway + "  endpoints:\n    - path: /**\n      proxy:\n        backend: api\n")
					addr, _ := plHarness(t, b.String(), off)
					methods := r.methods
					if methods == nil {
						methods = []string{"GET"}
					}
					as, closed := plExchange(t, addr, r.raw, methods...)
					var up strings.Builder
					for i, o := range os {
						text := o.requests()
						for j, other := range os {
							text = strings.ReplaceAll(text, strings.TrimPrefix(strings.TrimPrefix(other.url, "http://"), "https://"), fmt.Sprintf("<origin %d>", j))
						}
						fmt.Fprintf(&up, "=== origin %d\n%s\n", i, text)
					}
					return up.String(), plAnswersText(as, closed, "Couper-Request-Id")
				}
				upOn, ansOn := run(false)
				upOff, ansOff := run(true)
				if !strings.Contains(upOn, "HTTP/") {
					t.Fatalf("no request reached an origin:\n%s\n%s", upOn, ansOn)
				}
				if upOn != upOff {
					t.Errorf("upstream requests differ\n--- plain lane:\n%s\n--- header-map path:\n%s", upOn, upOff)
				}
				if ansOn != ansOff {
					t.Errorf("answers differ\n--- plain lane:\n%s\n--- header-map path:\n%s", ansOn, ansOff)
				}
			})
		}
	}
}
