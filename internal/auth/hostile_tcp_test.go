package auth

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestHostileRequestsOverTCP sends malformed and oversized requests as raw
// bytes to a real server with the handler: each gets a short, bounded
// refusal, never OK, and the server keeps answering.
func TestHostileRequestsOverTCP(t *testing.T) {
	env := newEnv(t, nil)
	srv := httptest.NewServer(env.mux)
	defer srv.Close()

	nginxHead := func(extra string) string {
		return "GET /api/v1/auth/nginx HTTP/1.0\r\nHost: 127.0.0.1\r\nAuth-Method: plain\r\nAuth-Protocol: imap\r\n" +
			"Client-IP: 127.0.0.1\r\n" + extra + "\r\n"
	}
	creds := "Auth-User: alice\r\nAuth-Pass: " + testPassword + "\r\n"
	// jsonPost declares contentLength bytes, or the body's length for -1.
	jsonPost := func(contentLength int, body string) string {
		if contentLength < 0 {
			contentLength = len(body)
		}
		return "POST /api/v1/auth/json HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n" +
			"Content-Length: " + strconv.Itoa(contentLength) + "\r\n\r\n" + body
	}
	big := strings.Repeat("A", 100<<10)
	const failed = "Invalid login or password"
	cases := []struct {
		name, raw string
		status    int
		// authStatus is a prefix of the answer's Auth-Status: the reason
		// of a malformed request, the failure message of a refused
		// credential; "" for an answer net/http gives before the handler.
		authStatus string
	}{
		{"100 KB user", nginxHead("Auth-User: " + big + "\r\nAuth-Pass: x\r\n"), 200, failed},
		{"100 KB password", nginxHead("Auth-User: alice\r\nAuth-Pass: " + big + "\r\n"), 200, failed},
		{"100 KB attempt", nginxHead(creds + "Auth-Login-Attempt: " + big + "\r\n"), 200, `login attempt "AAAA`},
		{"negative attempt", nginxHead(creds + "Auth-Login-Attempt: -1\r\n"), 200, `login attempt "-1" is not`},
		{"overflowing attempt", nginxHead(creds + "Auth-Login-Attempt: 99999999999999999999999\r\n"), 200, "login attempt"},
		{"escaped CR LF password", nginxHead("Auth-User: alice\r\nAuth-Pass: pw%0d%0aDELE 1\r\n"), 200, failed},
		{"escaped NUL user", nginxHead("Auth-User: al%00ice\r\nAuth-Pass: x\r\n"), 200, failed},
		{"empty password", nginxHead("Auth-User: alice\r\nAuth-Pass: \r\n"), 200, failed},
		// net/http refuses a raw control character before the handler runs.
		{"raw control character", nginxHead(creds + "Auth-Protocol: im\x01ap\r\n"), 400, ""},
		{"duplicated Auth-User", nginxHead(creds + "Auth-User: bob\r\n"), 200, "header Auth-User is sent 2 times"},
		{"duplicated Auth-Pass", nginxHead(creds + "auth-pass: other\r\n"), 200, "header Auth-Pass is sent 2 times"},
		{"duplicated Client-IP", nginxHead(creds + "Client-IP: 10.0.0.1\r\n"), 200, "header Client-IP is sent 2 times"},
		{"bad base64", strings.Replace(nginxHead("Auth-User: alice\r\nAuth-Pass: not base64!\r\nX-Auth-Password-Encoded: 1\r\n"), "/nginx", "/header", 1), 400, "header Auth-Pass: X-Auth-Password-Encoded"},
		{"header endpoint empty password", strings.Replace(nginxHead("Auth-User: alice\r\nAuth-Pass: \r\n"), "/nginx", "/header", 1), 403, failed},
		{"truncated json", jsonPost(100, `{"username":"alice","pass`), 400, "reading request body"},
		{"cut json", jsonPost(-1, `{"username":"alice","pass`), 400, "invalid JSON body: unexpected EOF"},
		{"json over 64 KiB", jsonPost(-1, `{"username":"`+strings.Repeat("a", 70<<10)+`"}`), 400, "request body larger than 65536 bytes"},
		{"deep json", jsonPost(-1, strings.Repeat("[", 10001)+strings.Repeat("]", 10001)), 400, "invalid JSON body"},
		{"json duplicate key", jsonPost(-1, `{"username":"alice","password":"x","username":"b"}`), 400, `invalid JSON body: key "username" is sent more than once`},
		{"json control characters", jsonPost(-1, `{"username":"alice","password":"a\u000db\u000a"}`), 403, failed},
		{"json empty password", jsonPost(-1, `{"username":"alice","password":""}`), 403, failed},
		{"json oversized field", jsonPost(-1, `{"username":"alice","password":"x","method":"`+strings.Repeat("m", 5000)+`"}`), 400, "field method longer than 4096 bytes"},
		{"json bad escape in the password", jsonPost(-1, `{"username":"alice","password":"DELE\q"}`), 400, "invalid JSON body: syntax error at byte"},
		{"wrong password still answers", nginxHead("Auth-User: alice\r\nAuth-Pass: wrong-password\r\nAuth-Login-Attempt: 1\r\n"), 200, failed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := rawExchange(t, srv.Listener.Addr().String(), c.raw)
			status := resp.Header.Get("Auth-Status")
			if resp.StatusCode != c.status {
				t.Errorf("status %d, want %d (body %.200q)", resp.StatusCode, c.status, body)
			}
			if c.authStatus != "" && !strings.HasPrefix(status, c.authStatus) {
				t.Errorf("Auth-Status %.300q, want it to start %q (body %.200q)", status, c.authStatus, body)
			}
			// A JSON body escapes the reason's quotes: at most twice as long.
			if len(body) > 2*maxReasonBytes+16 || len(status) > maxStatusText {
				t.Errorf("answer not bounded: body %d bytes, Auth-Status %d bytes", len(body), len(status))
			}
			if status == "OK" || resp.Header.Get("Auth-Server") != "" {
				t.Errorf("hostile request got a server: %v", resp.Header)
			}
			if strings.Contains(body+status, testPassword) || strings.Contains(body+status, "DELE") {
				t.Errorf("answer repeats a credential: %q %q", status, body)
			}
		})
	}
	// After all that, a normal login still works.
	resp, _ := rawExchange(t, srv.Listener.Addr().String(), nginxHead(creds+"Auth-Login-Attempt: 1\r\n"))
	if resp.Header.Get("Auth-Status") != "OK" {
		t.Errorf("normal login after the hostile ones: %v", resp.Header)
	}
	if n := len(env.logs.String()); n > 64<<10 {
		t.Errorf("log grew to %d bytes for %d requests", n, len(cases)+1)
	}
}

// rawExchange writes raw, half-closes, and reads one answer.
func rawExchange(t *testing.T, addr, raw string) (*http.Response, string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatalf("writing: %v", err)
	}
	_ = conn.(*net.TCPConn).CloseWrite()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatalf("reading the body: %v", err)
	}
	return resp, strings.TrimSuffix(string(b), "\n")
}
