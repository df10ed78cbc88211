package gateway

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Bodies around net/http's 4 KiB buffer and up to the spliced size go
// through the corked connection; each arrives whole, and the next answer
// on the same client connection (a HEAD among them) is not disturbed by
// anything held back.
func TestGatheredBodiesArriveWholeOnAKeptConnection(t *testing.T) {
	for _, size := range []int{maxHeld - 1, maxHeld, maxHeld + 1, 5000, 64<<10 - 1, 64 << 10, 64<<10 + 1} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			body := spliceBodyBytes(size)
			o := newRawOrigin(t, serveBody(body))
			h := newHarness(t, gatewayYAML(o.url(), "", "    - path: /x\n      proxy:\n        backend: api\n"))
			conn := h.dialRaw(t)
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
			br := bufio.NewReader(conn)
			for i, method := range []string{"GET", "GET", "HEAD", "GET"} {
				fmt.Fprintf(conn, "%s /x HTTP/1.1\r\nHost: gw.test\r\n\r\n", method)
				req := &http.Request{Method: method}
				resp, err := http.ReadResponse(br, req)
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				got, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				want := string(body)
				if method == "HEAD" {
					want = ""
				}
				if err != nil || resp.StatusCode != 200 || string(got) != want {
					t.Fatalf("request %d (%s): status %d, %d bytes, %v; want %d bytes (first difference at %d)",
						i, method, resp.StatusCode, len(got), err, len(want), firstDifference(string(got), want))
				}
			}
		})
	}
}

// tcpPair is both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close(); client.Close() })
	_ = client.SetDeadline(time.Now().Add(20 * time.Second))
	return server, client
}

// A corked connection sends what it was given, in order, on TCP (one
// writev) and on anything else (two writes): the held write with the
// next, a lone held write at uncork, a held write before a ReadFrom.
func TestCorkedConnectionSendsEverythingInOrder(t *testing.T) {
	big := strings.Repeat("b", 60<<10)
	for _, kind := range []string{"tcp", "pipe"} {
		t.Run(kind, func(t *testing.T) {
			var server, client net.Conn
			if kind == "tcp" {
				server, client = tcpPair(t)
			} else {
				server, client = net.Pipe()
				defer server.Close()
				defer client.Close()
			}
			fc := &framingConn{Conn: server}
			want := "head" + big + "alone" + "before" + "readfrom" + "after"
			got := make(chan string, 1)
			go func() {
				b, _ := io.ReadAll(io.LimitReader(client, int64(len(want))))
				got <- string(b)
			}()
			fc.cork()
			if n, err := fc.Write([]byte("head")); n != 4 || err != nil {
				t.Fatalf("held write = %d, %v", n, err)
			}
			if n, err := fc.Write([]byte(big)); n != len(big) || err != nil {
				t.Fatalf("gathered write = %d, %v; want %d", n, err, len(big))
			}
			fc.cork()
			_, _ = fc.Write([]byte("alone"))
			if err := fc.uncork(); err != nil {
				t.Fatal(err)
			}
			fc.cork()
			_, _ = fc.Write([]byte("before"))
			if _, err := fc.ReadFrom(strings.NewReader("readfrom")); err != nil {
				t.Fatal(err)
			}
			_ = fc.uncork()
			_, _ = fc.Write([]byte("after"))
			if s := <-got; s != want {
				t.Fatalf("the client got %d bytes, want %d (first difference at %d)", len(s), len(want), firstDifference(s, want))
			}
		})
	}
}

// A held first write (the head and the start of the body) leaves before
// the gateway waits on the origin again: an origin that stalls after
// sending part of its body does not keep the response head from the client.
func TestCorkedHeadNotHeldWhileTheOriginStalls(t *testing.T) {
	stall := make(chan struct{})
	defer close(stall) // before the cleanups, which wait for the request
	o := newRawOrigin(t, func(o *rawOrigin, c net.Conn, br *bufio.Reader, _ int) {
		if _, ok := o.read(br); !ok {
			return
		}
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: 20000\r\n\r\n%s", strings.Repeat("a", 6000))
		time.Sleep(50 * time.Millisecond) // the gateway's first two reads take 6001 bytes
		_, _ = c.Write([]byte("a"))
		<-stall
	})
	h := newHarness(t, gatewayYAML(o.url(), "", "    - path: /x\n      proxy:\n        backend: api\n"))
	conn := h.dialRaw(t)
	defer conn.Close()
	fmt.Fprintf(conn, "GET /x HTTP/1.1\r\nHost: gw.test\r\n\r\n")
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no response head while the origin stalls: %v", err)
	}
	if resp.StatusCode != 200 { // the body is not drained: it never ends
		t.Fatalf("status %d", resp.StatusCode)
	}
}
