package gateway

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// A minimal RFC 6455 peer for the tests: frames with payloads up to 64 KiB,
// masked from the client, unmasked from the server.

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

func wsFrame(opcode byte, payload []byte, mask bool) []byte {
	b := []byte{0x80 | opcode}
	m := byte(0)
	if mask {
		m = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		b = append(b, m|byte(n))
	default:
		b = append(b, m|126, byte(n>>8), byte(n))
	}
	if !mask {
		return append(b, payload...)
	}
	key := [4]byte{1, 2, 3, 4}
	b = append(b, key[:]...)
	for i, c := range payload {
		b = append(b, c^key[i%4])
	}
	return b
}

func wsRead(r io.Reader) (opcode byte, payload []byte, err error) {
	var h [2]byte
	if _, err = io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n := int(h[1] & 0x7f)
	if n == 126 {
		var ext [2]byte
		if _, err = io.ReadFull(r, ext[:]); err != nil {
			return 0, nil, err
		}
		n = int(binary.BigEndian.Uint16(ext[:]))
	} else if n == 127 {
		return 0, nil, errors.New("64-bit lengths are not needed here")
	}
	var key [4]byte
	masked := h[1]&0x80 != 0
	if masked {
		if _, err = io.ReadFull(r, key[:]); err != nil {
			return 0, nil, err
		}
	}
	payload = make([]byte, n)
	if _, err = io.ReadFull(r, payload); err != nil {
		return 0, nil, err
	}
	if masked {
		for i := range payload {
			payload[i] ^= key[i%4]
		}
	}
	return h[0] & 0x0f, payload, nil
}

// wsOrigin is a websocket origin: it records each handshake and echoes
// text frames; a close frame is answered and the connection ended. After
// the client half-closes it sends "bye" and closes.
type wsOrigin struct {
	mu      sync.Mutex
	heads   []string
	refuse  int    // answer the upgrade with this status instead
	proto   string // Upgrade header to answer with; "" = websocket
	flood   int    // bytes to send right after the 101, unasked
	done    chan struct{}
	srvOnce sync.Once
	// active counts handlers: hijacked ones outlive httptest's Close.
	active sync.WaitGroup
}

// newWSOrigin starts o; cleanup waits for its handlers (goleak checks).
func newWSOrigin(t *testing.T) (*wsOrigin, *httptest.Server) {
	t.Helper()
	o := &wsOrigin{}
	srv := httptest.NewServer(o)
	t.Cleanup(func() { srv.Close(); o.active.Wait() })
	return o, srv
}

// settle waits until no request of h is in flight (tunnels included), so
// no handler outlives the test; the loop bound only guards against a hang.
func settle(t *testing.T, h *harness) {
	t.Cleanup(func() {
		for i := 0; i < 4000; i++ {
			busy := false
			for _, rt := range h.gw.runtimes {
				busy = busy || rt.inFlight.Load() > 0
			}
			if !busy {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Error("a tunnel outlived its test")
	})
}

func (o *wsOrigin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.active.Add(1)
	defer o.active.Done()
	var names []string
	for k := range r.Header {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s\n", r.Method, r.RequestURI, r.Proto)
	for _, k := range names {
		if k == "X-Forwarded-For" || k == "Couper-Request-Id" {
			fmt.Fprintf(&b, "%s: <%d value(s)>\n", k, len(r.Header[k]))
			continue
		}
		fmt.Fprintf(&b, "%s: %s\n", k, strings.Join(r.Header[k], ", "))
	}
	o.mu.Lock()
	o.heads = append(o.heads, b.String())
	refuse, proto, flood := o.refuse, o.proto, o.flood
	o.mu.Unlock()
	if refuse != 0 || r.Header.Get("Upgrade") == "" {
		if refuse == 0 {
			refuse = http.StatusUpgradeRequired
		}
		w.WriteHeader(refuse)
		_, _ = io.WriteString(w, "no upgrade\n")
		return
	}
	if proto == "" {
		proto = "websocket"
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	defer func() {
		if o.done != nil {
			o.srvOnce.Do(func() { close(o.done) })
		}
	}()
	fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: %s\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\nX-Origin: ws\r\n\r\n",
		proto, wsAccept(r.Header.Get("Sec-WebSocket-Key")))
	if flood > 0 {
		_ = brw.Flush()
		chunk := wsFrame(0x2, make([]byte, 60000), false)
		for sent := 0; sent < flood; sent += len(chunk) {
			if _, err := conn.Write(chunk); err != nil {
				return
			}
		}
		return
	}
	_ = brw.Flush()
	for {
		op, payload, err := wsRead(brw.Reader)
		if err != nil {
			// The client half-closed: a last word, then close.
			_, _ = conn.Write(wsFrame(0x1, []byte("bye"), false))
			return
		}
		switch op {
		case 0x8:
			_, _ = conn.Write(wsFrame(0x8, payload, false))
			return
		default:
			_, _ = conn.Write(wsFrame(op, append([]byte("echo:"), payload...), false))
		}
	}
}

func (o *wsOrigin) handshakes() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.heads...)
}

func wsHarness(t *testing.T, websockets string) (*harness, *wsOrigin) {
	t.Helper()
	return wsHarnessWith(t, websockets, func(t *testing.T, yml string) *harness { return newHarness(t, yml) })
}

// wsHarnessWith is wsHarness on the gateway newH makes (plain or TLS).
func wsHarnessWith(t *testing.T, websockets string, newH func(*testing.T, string) *harness) (*harness, *wsOrigin) {
	t.Helper()
	o, srv := newWSOrigin(t)
	yml := `definitions:
  backends:
    ws:
      origin: ` + srv.URL + `
gateway:
  address: 127.0.0.1:18999
  endpoints:
    - path: /chat/**
      proxy:
        backend: ws
` + websockets + `    - path: /plain
      proxy:
        backend: ws
`
	h := newH(t, yml)
	settle(t, h)
	return h, o
}

// rawForwardProxy is a forward proxy for http:// origins that relays the
// connection byte for byte once it has sent the request on: enough for
// net/http's transport to see the origin's 101.
func rawForwardProxy(t *testing.T) *httptest.Server {
	t.Helper()
	var wg sync.WaitGroup
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wg.Add(1) // hijacked handlers outlive httptest's Close
		defer wg.Done()
		oc, err := net.Dial("tcp", r.URL.Host)
		if err != nil {
			http.Error(w, err.Error(), 502)
			return
		}
		cc, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			oc.Close()
			return
		}
		r.RequestURI = ""
		_ = r.Write(oc)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = io.Copy(oc, brw)
			oc.Close()
		}()
		_, _ = io.Copy(cc, oc)
		cc.Close()
		oc.Close()
	}))
	t.Cleanup(func() { srv.Close(); wg.Wait() })
	return srv
}
