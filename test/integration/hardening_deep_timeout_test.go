package integration

import (
	"context"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/probe"
	"github.com/backline/backline/internal/testfixture"
)

// TestStartTLSDeepCheckStaysWithinDeepTimeout (issue 9 item 7): the whole
// deep phase of a STARTTLS check, handshake included, ends within
// deep_timeout.
//
// Against Dovecot A directly (and through HAProxy's accept-proxy), a
// STARTTLS login check of each protocol passes well within it (sanity). Through a relay that makes Dovecot slow
// on both sides of STARTTLS (greeting and ServerHello each held 1.2 s), a
// check with deep_timeout 2s must fail by its deadline. On 6e90d09 the
// deadline started again after the handshake (which had its own
// tls_timeout), so the same check passed after about 2.5 s.
func TestStartTLSDeepCheckStaysWithinDeepTimeout(t *testing.T) {
	f := testfixture.Load(t)
	type server struct {
		name, protocol, port string
		proxyHeader          bool // HAProxy accept-proxy: a PROXY v2 PROXY header first
	}
	servers := []server{
		{"imap", "imap", "DOVECOT_A_IMAP", false}, {"pop3", "pop3", "DOVECOT_A_POP3", false},
		{"smtp", "smtp", "DOVECOT_A_SUBMISSION", false}, {"sieve", "sieve", "DOVECOT_A_SIEVE", false},
		{"imap via HAProxy", "imap", "HAPROXY_ACCEPT_PROXY_IMAP", true},
	}
	target := func(t *testing.T, p server, addr string, deepTimeout time.Duration) *probe.Target {
		t.Helper()
		host, portText, _ := net.SplitHostPort(addr)
		port, err := strconv.Atoi(portText)
		if err != nil {
			t.Fatal(err)
		}
		ct := config.Target{Name: p.name, Protocol: p.protocol, Host: host, Port: port, TLSMode: "starttls",
			TLSCAFile: f.CAFile, TLSServerName: f.ServerName, DeepCheck: true,
			TestUsername: f.User, TestPassword: f.Password, AuthMechanism: "auto",
			ConnectTimeout: 5 * time.Second, TLSTimeout: 5 * time.Second, DeepTimeout: deepTimeout}
		if p.proxyHeader {
			ct.HAProxyV2, ct.HAProxyV2Command = true, "proxy"
		}
		tg, err := probe.NewTarget(&ct)
		if err != nil {
			t.Fatal(err)
		}
		return tg
	}
	check := func(tg *probe.Target) (probe.Result, time.Duration) {
		start := time.Now()
		res := (&probe.Prober{}).Check(context.Background(), tg, probe.PhaseDeep, probe.Options{})
		return res, time.Since(start)
	}

	for _, p := range servers {
		t.Run(p.name+" directly: passes within deep_timeout", func(t *testing.T) {
			const deep = 5 * time.Second
			res, took := check(target(t, p, f.Addr(p.port), deep))
			if !res.OK {
				t.Fatalf("STARTTLS check failed: %s %v", res.Reason, res.Err)
			}
			if took > deep {
				t.Errorf("took %v, more than deep_timeout %v", took, deep)
			}
		})
	}

	// The slow checks run all at once (each waits about 2 s), then each is
	// judged in its own subtest.
	const deep = 2 * time.Second
	type outcome struct {
		res  probe.Result
		took time.Duration
	}
	outcomes := make([]outcome, len(servers))
	var wg sync.WaitGroup
	for i, p := range servers {
		tg := target(t, p, slowRelay(t, f.Addr(p.port), 1200*time.Millisecond), deep)
		wg.Add(1)
		go func() {
			defer wg.Done()
			outcomes[i].res, outcomes[i].took = check(tg)
		}()
	}
	wg.Wait()
	for i, p := range servers {
		t.Run(p.name+" slow on both sides of STARTTLS: fails by deep_timeout", func(t *testing.T) {
			res, took := outcomes[i].res, outcomes[i].took
			if res.OK {
				t.Fatalf("passed after %v with deep_timeout %v: the deadline restarted after STARTTLS", took, deep)
			}
			// Generous: the bound is deep_timeout; 1 s covers a loaded machine.
			if took > deep+time.Second {
				t.Errorf("failed after %v, want about deep_timeout %v (%s: %v)", took, deep, res.Reason, res.Err)
			}
			// The point is the second half: the greeting came in time, and the
			// rest of the check still had to fit in what was left.
			if !hasStep(res, "greeting") {
				t.Errorf("failed before the greeting was read: %s: %v", res.Reason, res.Err)
			}
			t.Logf("failed after %v: %s: %v", took.Round(time.Millisecond), res.Reason, res.Err)
		})
	}
}

// slowRelay forwards a loopback port to target and returns its address. It
// holds back the server's first bytes (the greeting) and its first bytes
// after the client starts a TLS handshake (the ServerHello) by delay each;
// everything else passes at once.
func slowRelay(t *testing.T, target string, delay time.Duration) string {
	t.Helper()
	// A test makes one connection; bounded all the same. Closing the
	// client connection at the end of the test ends both copies.
	return serveLoopback(t, 10, func(client net.Conn) {
		server, err := net.DialTimeout("tcp", target, 5*time.Second)
		if err != nil {
			client.Close()
			return
		}
		var tlsStarted atomic.Bool
		var copies sync.WaitGroup
		copies.Go(func() { // client -> server
			defer server.Close()
			buf := make([]byte, 16<<10)
			for {
				n, err := client.Read(buf)
				if n > 0 {
					if buf[0] == 0x16 { // TLS handshake record: a ClientHello
						tlsStarted.Store(true)
					}
					if _, werr := server.Write(buf[:n]); werr != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		})
		copies.Go(func() { // server -> client
			defer client.Close()
			buf := make([]byte, 16<<10)
			greetingHeld, serverHelloHeld := false, false
			for {
				n, err := server.Read(buf)
				if n > 0 {
					switch {
					case !greetingHeld:
						greetingHeld = true
						time.Sleep(delay)
					case tlsStarted.Load() && !serverHelloHeld:
						serverHelloHeld = true
						time.Sleep(delay)
					}
					if _, werr := client.Write(buf[:n]); werr != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		})
		copies.Wait()
	}).addr()
}

func hasStep(res probe.Result, name string) bool {
	for _, s := range res.Steps {
		if s.Name == name {
			return true
		}
	}
	return false
}
