package gateway

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backline/backline/internal/config"
)

// Helpers for the plain lane's review tests (plain.go): an origin that
// records each request exactly as it arrived, a client that writes raw
// bytes and reads raw answers, and a comparison of two gateways that
// differ only in Gateway.plainLaneOff.

// plField is one field line as it came, name in its own case.
type plField struct{ name, value string }

// plSeen is one request as the origin read it.
type plSeen struct {
	method, target, version string
	fields                  []plField
	body                    string
	bodyErr                 error
}

// plOrigin is a raw HTTP/1.1 origin: it records every request head and
// body and answers with what answer returns for it (raw bytes; a
// Connection: close answer, or an empty one, closes the connection).
type plOrigin struct {
	ln     net.Listener
	answer func(s plSeen, n int) string
	// early: answer as soon as the head is read, the body unread.
	early bool

	mu    sync.Mutex
	seen  []plSeen
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

func newPlOrigin(t testing.TB, answer func(s plSeen, n int) string) *plOrigin {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &plOrigin{ln: ln, answer: answer, conns: map[net.Conn]bool{}}
	o.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			o.mu.Lock()
			o.conns[c] = true
			o.mu.Unlock()
			o.wg.Go(func() {
				defer func() {
					o.mu.Lock()
					delete(o.conns, c)
					o.mu.Unlock()
					c.Close()
				}()
				o.serve(c)
			})
		}
	})
	t.Cleanup(o.close)
	return o
}

func (o *plOrigin) close() {
	o.ln.Close()
	o.mu.Lock()
	for c := range o.conns {
		c.Close()
	}
	o.mu.Unlock()
	o.wg.Wait()
}

func (o *plOrigin) url() string { return "http://" + o.ln.Addr().String() }

func (o *plOrigin) requests() []plSeen {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.seen)
}

func (o *plOrigin) serve(c net.Conn) {
	br := bufio.NewReader(c)
	for {
		line, fields, err := plReadHead(br)
		if err != nil {
			return
		}
		var s plSeen
		parts := strings.SplitN(line, " ", 3)
		if len(parts) == 3 {
			s.method, s.target, s.version = parts[0], parts[1], parts[2]
		}
		s.fields = fields
		o.mu.Lock()
		n := len(o.seen)
		o.mu.Unlock()
		var answer string
		if o.early {
			answer = o.answer(s, n)
			_, _ = io.WriteString(c, answer)
		}
		body, berr := plReadBody(br, fields, "", 0)
		s.body, s.bodyErr = body, berr
		o.mu.Lock()
		o.seen = append(o.seen, s)
		o.mu.Unlock()
		if berr != nil {
			return
		}
		if !o.early {
			answer = o.answer(s, n)
			if _, err := io.WriteString(c, answer); err != nil {
				return
			}
		}
		if answer == "" || plHasToken(answer, "close") || o.early {
			return
		}
	}
}

// plHasToken reports whether a raw head says "Connection: <token>".
func plHasToken(raw, token string) bool {
	head, _, _ := strings.Cut(raw, "\r\n\r\n")
	for l := range strings.SplitSeq(head, "\r\n") {
		name, v, ok := strings.Cut(l, ":")
		if ok && strings.EqualFold(strings.TrimSpace(name), "Connection") && hasToken([]string{v}, token) {
			return true
		}
	}
	return false
}

// plReadHead reads a start line and field lines (CRLF or LF), as sent.
func plReadHead(br *bufio.Reader) (string, []plField, error) {
	var start string
	var fields []plField
	for i := 0; ; i++ {
		l, err := br.ReadString('\n')
		if err != nil {
			return "", nil, err
		}
		l = strings.TrimSuffix(strings.TrimSuffix(l, "\n"), "\r")
		if i == 0 {
			start = l
			continue
		}
		if l == "" {
			return start, fields, nil
		}
		name, v, _ := strings.Cut(l, ":")
		fields = append(fields, plField{name, strings.Trim(v, " \t")})
	}
}

// plReadBody reads the body the fields frame: chunked, Content-Length,
// or (toEOF, an answer without either) up to the end of the connection.
func plReadBody(br *bufio.Reader, fields []plField, method string, status int) (string, error) {
	if method == http.MethodHead || status == 204 || status == 304 || (status >= 100 && status < 200) {
		return "", nil
	}
	var te, cl string
	hasCL := false
	for _, f := range fields {
		switch textproto.CanonicalMIMEHeaderKey(f.name) {
		case "Transfer-Encoding":
			te = f.value
		case "Content-Length":
			cl, hasCL = f.value, true
		}
	}
	switch {
	case strings.EqualFold(te, "chunked"):
		b, err := io.ReadAll(httputil.NewChunkedReader(br))
		if err != nil {
			return string(b), err
		}
		for { // trailers, then the empty line
			l, err := br.ReadString('\n')
			if err != nil || l == "\r\n" || l == "\n" {
				return string(b), err
			}
		}
	case hasCL:
		n, err := strconv.ParseInt(cl, 10, 64)
		if err != nil {
			return "", err
		}
		b := make([]byte, n)
		_, err = io.ReadFull(br, b)
		return string(b), err
	case status != 0: // an answer: until the connection ends
		b, err := io.ReadAll(br)
		return string(b), err
	}
	return "", nil
}

// plAnswer is one final answer as the client read it.
type plAnswer struct {
	status int
	fields []plField
	body   string
	err    error
}

// plExchange writes raw to addr and reads up to want final answers (1xx
// skipped) to requests of the given methods, or until the gateway closes.
// closed reports that the connection ended before they all came.
func plExchange(t testing.TB, addr, raw string, methods ...string) (answers []plAnswer, closed bool) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second)) // a hang guard, not a measurement
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	answers, closed = plReadAnswers(br, methods)
	return answers, closed
}

func plReadAnswers(br *bufio.Reader, methods []string) (answers []plAnswer, closed bool) {
	for len(answers) < len(methods) {
		line, fields, err := plReadHead(br)
		if err != nil {
			return answers, true
		}
		code := 0
		if len(line) >= 12 {
			code, _ = strconv.Atoi(line[9:12])
		}
		if code >= 100 && code < 200 {
			continue
		}
		a := plAnswer{status: code, fields: fields}
		a.body, a.err = plReadBody(br, fields, methods[len(answers)], code)
		answers = append(answers, a)
		if a.err != nil {
			return answers, true
		}
	}
	// Whether the gateway closes after them is in their Connection
	// fields (waiting for the end here would wait for its idle timeout).
	return answers, false
}

// plHarness serves a gateway for yml on 127.0.0.1 with the plain lane on
// or off (set before the first request, so the handler reads it without
// a race).
func plHarness(t testing.TB, yml string, laneOff bool) (addr string, gw *Gateway) {
	t.Helper()
	cfg, err := config.Parse([]byte(yml))
	if err != nil {
		t.Fatalf("config: %v\n%s", err, yml)
	}
	gw, err = New(Options{Config: cfg, Registerer: prometheus.NewRegistry(),
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("gateway.New: %v\n%s", err, yml)
	}
	gw.plainLaneOff = laneOff
	srv := serveForTest(t, gw)
	t.Cleanup(func() {
		srv.Close()
		gw.Close()
	})
	return srv.Listener.Addr().String(), gw
}

// plGatewayID is a request id of the gateway's own (a process prefix and
// a counter): the two gateways compared number apart.
var (
	plGatewayID   = regexp.MustCompile(`^[0-9a-f]{12}-[0-9]+$`)
	plGatewayIDIn = regexp.MustCompile(`\b[0-9a-f]{12}-[0-9]+\b`)
)

// plNormal is a head as the comparison sees it: the start line's parts,
// then the fields as "Canonical-Name: value", sorted; idName's value and
// Date are masked (the two gateways number requests apart, and the clock
// moves).
func plNormal(start string, fields []plField, idNames ...string) []string {
	out := []string{start}
	for _, f := range fields {
		name := textproto.CanonicalMIMEHeaderKey(f.name)
		v := f.value
		if name == "Date" {
			continue
		}
		for _, id := range idNames {
			if id != "" && name == id && plGatewayID.MatchString(v) {
				v = "<id>"
			}
		}
		out = append(out, name+": "+v)
	}
	slices.Sort(out[1:])
	return out
}

func plSeenText(s plSeen, idNames ...string) string {
	n := plNormal(s.method+" "+s.target+" "+s.version, s.fields, idNames...)
	return strings.Join(n, "\n") + "\n\n" + s.body + plErrText(s.bodyErr)
}

func plAnswerText(a plAnswer, idNames ...string) string {
	n := plNormal(strconv.Itoa(a.status), a.fields, idNames...)
	// The gateway's error answers name the request id.
	body := plGatewayIDIn.ReplaceAllString(a.body, "<id>")
	return strings.Join(n, "\n") + "\n\n" + body + plErrText(a.err)
}

func plErrText(err error) string {
	if err == nil {
		return ""
	}
	return fmt.Sprintf(" [error %v]", err)
}

// plAnswersText are a connection's answers and whether it closed.
func plAnswersText(as []plAnswer, closed bool, idNames ...string) string {
	var b strings.Builder
	for i, a := range as {
		fmt.Fprintf(&b, "--- answer %d\n%s\n", i, plAnswerText(a, idNames...))
	}
	fmt.Fprintf(&b, "--- closed %v\n", closed)
	return b.String()
}

func plSeenAll(ss []plSeen, idNames ...string) string {
	var b strings.Builder
	for i, s := range ss {
		fmt.Fprintf(&b, "--- upstream %d\n%s\n", i, plSeenText(s, idNames...))
	}
	return b.String()
}
