package probe

import (
	"net"
	"strings"
	"testing"
	"time"
)

// FuzzTCPExpect feeds arbitrary server bytes to a tcp check with a secret
// send step: it never panics, holds the max_bytes bound, and no transcript
// line or error carries a raw control character or the secret.
func FuzzTCPExpect(f *testing.F) {
	for _, seed := range []string{
		"+OK\r\n+PONG\r\n",
		"+OK\n",
		"\x00\x1b[2J\r\n",
		strings.Repeat("A", 200),
		"-ERR " + tcpSecret + "\r\n",
		"\xff\xfe\r\r\r\n",
		"+OK\r\n" + tcpSecret[:5],
		strings.Repeat("x", 90) + strings.ToUpper(tcpSecret) + "\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		client, server := net.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			go func() { // drain what the check sends
				buf := make([]byte, 512)
				for {
					if _, err := server.Read(buf); err != nil {
						return
					}
				}
			}()
			_, _ = server.Write(data)
			server.Close()
		}()
		tg := &Target{Protocol: "tcp", Host: "127.0.0.1", Port: 1, DeepTimeout: 5 * time.Second, AllowPlaintextAuth: true,
			TCPSteps: []TCPStep{secret(tcpSecret + "\r\n"), expect("+OK"), expectRe(`^\+PONG`)}}
		tg.TCPSteps[1].MaxBytes = 100
		var res Result
		s := newSession(client, tg, &res, Options{Transcript: true})
		err := checkTCP(s)
		client.Close()
		<-done
		texts := res.Transcript
		if err != nil {
			texts = append(texts, err.Error())
		}
		for _, text := range texts {
			if strings.ContainsFunc(text, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				t.Fatalf("raw control character in %q", text)
			}
			// In any case (a cut echo: TestReviewTCPSecretEchoCut*).
			if strings.Contains(strings.ToLower(text), tcpSecret) {
				t.Fatalf("secret in %q", text)
			}
			if len(text) > 600 && !strings.HasPrefix(text, "TCP") {
				t.Fatalf("transcript line of %d bytes", len(text))
			}
		}
	})
}
