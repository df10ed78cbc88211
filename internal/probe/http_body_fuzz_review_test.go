package probe

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
	"time"
)

// FuzzReviewHTTPBodyEcho feeds arbitrary answers to a POST check whose
// body holds a credential: whatever the server echoes (interim answers,
// reason phrases, headers, malformed lines), neither the body nor the
// credential shows in the transcript or the error, and a pass needs a
// listed final status.
func FuzzReviewHTTPBodyEcho(f *testing.F) {
	const body = "user=probe&password=Hunter2Secret"
	for _, seed := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 401 bad password Hunter2Secret\r\n\r\n",
		"HTTP/1.1 103 Early Hints\r\nX-Echo: " + body + "\r\n\r\nHTTP/1.1 404 x\r\n\r\n",
		"HTTP/1.1 400 " + body + "\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX-Echo " + body + "\r\n\r\n",
		body + "\r\n\r\n",
		strings.Repeat("HTTP/1.1 100 Continue\r\n\r\n", 7),
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tg := &Target{Name: "fuzz", Protocol: "http", Host: "127.0.0.1", Port: 80,
			HTTP: &HTTPExpect{Path: "/health", Method: "POST", Body: body, Statuses: []int{200}, DrainStatuses: []int{404}}}
		res := &Result{}
		s := &session{conn: writeOnlyConn{}, r: bufio.NewReader(bytes.NewReader(data)), target: tg, res: res,
			record: true, deadline: time.Now().Add(time.Hour)}
		err := checkHTTP(s)
		texts := res.Transcript
		if err != nil {
			texts = append(texts, err.Error())
		} else if !bytes.Contains(data, []byte(" 200")) && !bytes.Contains(data, []byte(" 404")) {
			t.Fatalf("passed without a listed status: %q", data)
		}
		for _, text := range texts {
			if strings.Contains(text, "Hunter2Secret") {
				t.Fatalf("body credential shown in %q", text)
			}
		}
	})
}
