package gateway

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// headerBreakingConn is an origin connection on which the first write
// (the PROXY header) fails: reset by the peer, or (stall) not taken until
// the write deadline passes.
type headerBreakingConn struct {
	net.Conn
	stall bool

	mu       sync.Mutex
	deadline time.Time
}

func (c *headerBreakingConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	return c.Conn.SetWriteDeadline(t)
}

func (c *headerBreakingConn) Write(p []byte) (int, error) {
	if !c.stall {
		return 0, &net.OpError{Op: "write", Net: "tcp", Addr: c.RemoteAddr(), Err: os.NewSyscallError("write", syscall.ECONNRESET)}
	}
	c.mu.Lock()
	dl := c.deadline
	c.mu.Unlock()
	if dl.IsZero() {
		return 0, fmt.Errorf("headerBreakingConn: a PROXY header written without a deadline")
	}
	time.Sleep(time.Until(dl))
	return 0, &net.OpError{Op: "write", Net: "tcp", Addr: c.RemoteAddr(), Err: os.ErrDeadlineExceeded}
}

// breakHeaderDial dials for real and breaks the header on connections to
// addr.
func breakHeaderDial(addr string, stall bool) func(*Options) {
	return func(o *Options) {
		var d net.Dialer
		o.Dial = func(ctx context.Context, network, a string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, a)
			if err != nil || a != addr {
				return c, err
			}
			return &headerBreakingConn{Conn: c, stall: stall}, nil
		}
	}
}

// A PROXY header reset on an origin of several is a connect failure for
// retry_on (the default connect_failure): even a POST goes to the next
// origin, the retry is counted with reason connect_failure, and the log
// tells the header's failure, not a failed connect. Over backline's
// HTTP/1.1 client and over net/http's (h2c).
func TestReviewProxyHeaderResetRetriedAsConnectFailure(t *testing.T) {
	for _, k := range []struct {
		name, backend string
		h2c           bool
	}{{"h1", "", false}, {"h2c", "      http2_prior_knowledge: true\n", true}} {
		t.Run(k.name, func(t *testing.T) {
			bad := ppEchoOrigin(t, false, false, k.h2c, nil, nil)
			good := ppEchoOrigin(t, false, false, k.h2c, nil, nil)
			yml := fmt.Sprintf(`definitions:
  backends:
    api:
      proxy_protocol: v2
      load_balancing: round_robin
%s      origins:
        - %s
        - %s
gateway:
  address: 127.0.0.1:18999
  endpoints:
    - path: /x
      proxy:
        backend: api
`, k.backend, bad.URL, good.URL)
			h := newHarness(t, yml, breakHeaderDial(bad.Listener.Addr().String(), false))
			for i := 0; i < 4; i++ {
				resp, body := h.do(http.MethodPost, "/x", strings.NewReader("payload"), nil)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("request %d: status %d (%s), want 200 from the next origin\n%s", i, resp.StatusCode, resp.Header.Get(ErrorHeader), h.logs.String())
				}
				_ = body
			}
			if n := metricSum(t, h, "backline_gateway_origin_retries_total", "reason", "connect_failure"); n < 1 {
				t.Errorf("retries with reason connect_failure: %v, want at least 1", n)
			}
			logs := h.logs.String()
			if !strings.Contains(logs, "sending the PROXY v2 header to api") || strings.Contains(logs, "connecting to api") {
				t.Errorf("the log does not tell the header's failure as itself:\n%s", logs)
			}
		})
	}
}

// With one origin, a reset header is a backend error: 502, error_type
// backend in the metric, header and log, which tells the header's
// failure; a header whose write runs into the request's deadline is a
// backend_timeout (504) logged as "deadline exceeded", as a connect that
// takes that long (docs/gateway.md says so).
func TestReviewProxyHeaderErrorKinds(t *testing.T) {
	for _, c := range []struct {
		name    string
		stall   bool
		timeout string
		status  int
		kind    string
		logged  string
	}{
		{"reset", false, "", http.StatusBadGateway, "backend", "sending the PROXY v1 header to api"},
		{"stalled to the deadline", true, "      timeout: 300ms\n", http.StatusGatewayTimeout, "backend_timeout", `"error":"deadline exceeded"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := ppEchoOrigin(t, false, false, false, nil, nil)
			h := newHarness(t, gatewayYAML(o.URL, c.timeout+"      proxy_protocol: v1\n", "    - path: /x\n      proxy:\n        backend: api\n"),
				breakHeaderDial(o.Listener.Addr().String(), c.stall))
			resp, _ := h.do(http.MethodGet, "/x", nil, nil)
			if resp.StatusCode != c.status || resp.Header.Get(ErrorHeader) != c.kind {
				t.Errorf("status %d %q, want %d %q\n%s", resp.StatusCode, resp.Header.Get(ErrorHeader), c.status, c.kind, h.logs.String())
			}
			if n := metricSum(t, h, "backline_gateway_errors_total", "type", c.kind); n != 1 {
				t.Errorf("errors_total{type=%q} = %v, want 1", c.kind, n)
			}
			logs := h.logs.String()
			if !strings.Contains(logs, c.logged) || !strings.Contains(logs, `"error_type":"`+c.kind+`"`) {
				t.Errorf("log lacks %s with error_type %s:\n%s", c.logged, c.kind, logs)
			}
		})
	}
}
