package gateway

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// A PROXY header that cannot be written in time is reported as that, not
// as a failed connect (the connect succeeded), and still counts as a
// connect failure for retry_on: nothing of the request went out.
func TestProxyHeaderWriteTimeoutReportedAsItself(t *testing.T) {
	c, peer := net.Pipe() // nobody reads peer: the write waits for its deadline
	defer c.Close()
	defer peer.Close()
	s := &transportSet{name: "api", proxyProtocol: 2}
	ctx, cancel := context.WithDeadline(context.Background(), time.Unix(1, 0)) // already passed
	defer cancel()
	err := s.sendProxyHeader(ctx, c, netip.MustParseAddr("192.0.2.7"))
	if err == nil {
		t.Fatal("header written with nobody reading")
	}
	var de *dialError
	if errors.As(err, &de) {
		t.Errorf("reported as a dial error: %v", err)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("not a timeout: %v", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "PROXY v2 header") || !strings.Contains(msg, "api") || strings.Contains(msg, "connecting") {
		t.Errorf("error text %q", msg)
	}
	if !isConnectFailure(newError(kindBackend, err)) {
		t.Errorf("not a connect failure for retry_on: %v", err)
	}
}
