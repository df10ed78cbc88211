package auth

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/probe"
	"github.com/backline/backline/internal/testutil"
)

// The whole path with a real prober and health engine: the backend's
// name has two addresses, the first one dead. The check dials past it and
// passes on the second; nginx must get the second. Resolving the name
// again for the answer (what pickNginxBackend did) gives the first.
func TestNginxGetsTheAddressTheCheckReached(t *testing.T) {
	live := testutil.ServeTCP(t, func(c net.Conn) { c.Close() })
	_, portText, _ := net.SplitHostPort(live)
	port, _ := strconv.Atoi(portText)
	dead, alive := netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.1")
	if c, err := net.Dial("tcp", net.JoinHostPort(dead.String(), portText)); err == nil {
		c.Close()
		t.Skipf("%s:%d answers on this host; the test needs it dead", dead, port)
	}

	const name = "mail.backline.test."
	prober := &probe.Prober{Dialer: net.Dialer{Resolver: testutil.Resolver(map[string][]netip.Addr{name: {dead, alive}})}}
	target := &probe.Target{Name: "imap-named", Protocol: "imap", Host: name, Port: port, TLSMode: probe.TLSPlain,
		ConnectTimeout: 10 * time.Second, TLSTimeout: 10 * time.Second, DeepTimeout: 10 * time.Second}
	engine, err := health.New([]health.Group{{Name: health.GroupMail, ConnectInterval: time.Hour, DeepInterval: time.Hour,
		FailureThreshold: 1, RecoveryThreshold: 1, Targets: []*probe.Target{target}}}, prober, health.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); engine.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	// The first round runs at once; the bound only guards a hung test.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Millisecond) {
		if s := engine.Snapshot(); s != nil && s.Round > 0 {
			if b := s.Backends[0]; !b.Healthy || b.Addr != alive {
				t.Fatalf("after the first check: healthy %v, Addr %v; want healthy at %v", b.Healthy, b.Addr, alive)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no round finished")
		}
	}

	env := newEnv(t, func(c *config.Config, o *Options) {
		c.Auth.Nginx.DefaultPolicy = config.PolicyFirst
		o.Health = engine
	})
	env.h.resolver = fakeResolver{name: dead.String()} // what a fresh lookup would pick
	if got := nginxServer(t, env); got != alive.String()+" "+portText {
		t.Errorf("answer %q, want the checked %s %s", got, alive, portText)
	}
}
