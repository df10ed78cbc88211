package probe

import (
	"bufio"
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// The deep IMAP benchmark runs over plain TCP on loopback with
// allow_plaintext_auth, so it measures the probe and not TLS. The baseline
// does the same exchange as bare writes and reads; compare the two ns/op.

const benchGreeting = "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN AUTH=LOGIN] Dovecot ready.\r\n"

// startBenchIMAP is a minimal IMAP server: greeting, AUTHENTICATE answered
// OK, LOGOUT, close. It does not record anything, unlike the fake server.
func startBenchIMAP(b *testing.B) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				r := bufio.NewReader(conn)
				_, _ = io.WriteString(conn, benchGreeting)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					tag, rest, _ := strings.Cut(line, " ")
					if strings.HasPrefix(rest, "LOGOUT") {
						_, _ = io.WriteString(conn, "* BYE Logging out\r\n"+tag+" OK Logout completed.\r\n")
						return
					}
					_, _ = io.WriteString(conn, tag+" OK Logged in\r\n")
				}
			}()
		}
	}()
	b.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return ln.Addr().(*net.TCPAddr).Port
}

func BenchmarkIMAPDeepCheck(b *testing.B) {
	port := startBenchIMAP(b)
	tg := &Target{
		Protocol: "imap", Host: "127.0.0.1", Port: port, TLSMode: TLSPlain,
		ConnectTimeout: 5 * time.Second, TLSTimeout: 5 * time.Second, DeepTimeout: 5 * time.Second,
		DeepCheck: true, Username: testUser, Password: testPassword, Mechanism: "auto", AllowPlaintextAuth: true,
	}
	p := &Prober{}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if res := p.Check(ctx, tg, PhaseDeep, Options{}); !res.OK {
			b.Fatal(res.Err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "checks/s")
}

// BenchmarkIMAPBaseline is the floor: the same bytes on the wire with no
// parsing, classification or bookkeeping.
func BenchmarkIMAPBaseline(b *testing.B) {
	port := startBenchIMAP(b)
	addr := joinHostPort("127.0.0.1", port)
	auth := "a1 AUTHENTICATE PLAIN " + plainResponse(testUser, testPassword) + "\r\n"
	b.ReportAllocs()
	for b.Loop() {
		conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			b.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		r := bufio.NewReader(conn)
		if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "* OK") {
			b.Fatal(line, err)
		}
		_, _ = io.WriteString(conn, auth)
		if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "a1 OK") {
			b.Fatal(line, err)
		}
		_, _ = io.WriteString(conn, "a2 LOGOUT\r\n")
		conn.Close()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "checks/s")
}
