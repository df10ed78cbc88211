package probe

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"testing"

	"github.com/backline/backline/internal/testutil"
)

// A name with a dead address first: the dialer goes on to the next, and
// RemoteAddr says which one answered (health keeps it for nginx).
func TestRemoteAddrIsTheAddressThatAnswered(t *testing.T) {
	srv := startFake(t, func(c *fakeConn) { drainQuietly(c) })
	tg := newTarget(t, "imap", srv, TLSPlain)
	port := strconv.Itoa(tg.Port)
	if c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.2", port)); err == nil {
		c.Close()
		t.Skipf("127.0.0.2:%s answers on this host; the test needs it dead", port)
	}
	tg.Host = "mail.backline.test."
	p := &Prober{Dialer: net.Dialer{Resolver: testutil.Resolver(map[string][]netip.Addr{
		tg.Host: {netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.1")},
	})}}
	res := p.Check(context.Background(), tg, PhaseConnect, Options{})
	if !res.OK || res.RemoteAddr != "127.0.0.1:"+port {
		t.Fatalf("ok %v, RemoteAddr %q (err %v); want 127.0.0.1:%s", res.OK, res.RemoteAddr, res.Err, port)
	}
}
