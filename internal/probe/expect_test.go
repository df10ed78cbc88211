package probe

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/config"
)

// A mail-side http target carries its expectation in the same HTTPExpect
// the gateway's beta_health uses; left out, the seed's 200 only.
func TestNewTargetHTTPExpectation(t *testing.T) {
	tg, err := NewTarget(&config.Target{Protocol: "http", Host: "h", Port: 80, RequestURI: "/healthz",
		ExpectedStatus: []int{200, 503}, ExpectedText: "ok", Headers: map[string]string{"Host": "web.example.org"}})
	if err != nil {
		t.Fatal(err)
	}
	want := &HTTPExpect{Path: "/healthz", Statuses: []int{200, 503}, Text: "ok", Headers: map[string]string{"Host": "web.example.org"}}
	if !reflect.DeepEqual(tg.HTTP, want) {
		t.Errorf("HTTP = %+v, want %+v", tg.HTTP, want)
	}
	tg, err = NewTarget(&config.Target{Protocol: "http", Host: "h", Port: 80, RequestURI: "/"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(tg.HTTP.Statuses, []int{200}) || tg.implicitTLS() {
		t.Errorf("default HTTP = %+v (implicit TLS %v), want statuses [200] over plain", tg.HTTP, tg.implicitTLS())
	}
	if tg, _ := NewTarget(&config.Target{Protocol: "imap", Host: "h", Port: 143}); tg.HTTP != nil {
		t.Errorf("imap target has HTTP %+v", tg.HTTP)
	}
}

func TestNewTargetHeloName(t *testing.T) {
	tg, err := NewTarget(&config.Target{Protocol: "lmtp", Host: "h", Port: 24, HeloName: "probe.example.org"})
	if err != nil || tg.HeloName != "probe.example.org" {
		t.Fatalf("HeloName = %q, err %v", tg.HeloName, err)
	}
	for _, bad := range []string{"a\r\nRSET", "a\nb", "a\x00", "a b", "a\tb"} {
		_, err := NewTarget(&config.Target{Protocol: "smtp", Host: "h", Port: 25, HeloName: bad})
		if !errors.Is(err, ErrUnsafeValue) || !strings.Contains(err.Error(), "helo_name") {
			t.Errorf("helo_name %q: err = %v, want ErrUnsafeValue naming helo_name", bad, err)
		}
	}
}

// The exact SMTP and LMTP dialogues with a configured name.
func TestSMTPHeloName(t *testing.T) {
	for _, tc := range []struct {
		proto, hello string
		check        func(*session) error
		greeting     string
		caps         []string
	}{
		{"smtp", "EHLO", checkSMTP, dovecotAGreeting, dovecotAEhloTLS},
		{"lmtp", "LHLO", checkLMTP, aiosmtpdLMTPGreeting, dovecotLHLO},
	} {
		t.Run(tc.proto, func(t *testing.T) {
			srv := startDialogue(t, false,
				serverSays(tc.greeting),
				clientSends(tc.hello+" [IPv6:2001:db8::25]", tc.caps...),
				clientSends("QUIT", "221 2.0.0 Bye"),
			)
			tg := dlgTarget(srv, tc.proto, TLSPlain, "auto")
			tg.Username, tg.Password, tg.HeloName = "", "", "[IPv6:2001:db8::25]"
			res, err := runDeep(t, tg, 5*time.Second, tc.check)
			got := srv.finish(t)
			if err != nil {
				t.Fatalf("check failed: %v\n%s", err, strings.Join(res.Transcript, "\n"))
			}
			wantReceived(t, got, tc.hello+" [IPv6:2001:db8::25]", "QUIT")
			if !slices.Contains(res.Transcript, "C: "+tc.hello+" [IPv6:2001:db8::25]") {
				t.Errorf("transcript lacks the %s line: %q", tc.hello, res.Transcript)
			}
		})
	}
}

// A hand-built target (Lua, tools) with a hostile name sends no EHLO at
// all: not a second command, not a second word; only the goodbye.
func TestSMTPHeloNameHostile(t *testing.T) {
	for _, name := range []string{"a.example\r\nMAIL FROM:<x@y>", "a.example\nRSET", "a\x00b", "a.example SIZE=1"} {
		t.Run(name, func(t *testing.T) {
			srv := startDialogue(t, false, serverSays(dovecotAGreeting))
			tg := dlgTarget(srv, "smtp", TLSPlain, "auto")
			tg.Username, tg.Password, tg.HeloName = "", "", name
			_, err := runDeep(t, tg, 5*time.Second, checkSMTP)
			if !errors.Is(err, ErrUnsafeValue) {
				t.Fatalf("err = %v, want ErrUnsafeValue", err)
			}
			wantReason(t, err, ReasonConfig)
			wantReceived(t, srv.finish(t), "QUIT")
		})
	}
}

// A mail-side http target as config builds it: the configured headers in
// name order after the check's own (Host replaced in place), the status
// list and the body text judged.
func TestHTTPMailTargetExpect(t *testing.T) {
	request := []string{
		"C: GET /healthz HTTP/1.1",
		"C: Host: webmail.example.org",
		"C: User-Agent: backline-healthcheck",
		"C: Accept: */*",
		"C: Connection: close",
		"C: X-Api-Key: k3y-s3cret",
		"C: X-Probe: 1",
		"C: ",
	}
	run := func(t *testing.T, statuses []int, text string, response []string) Result {
		srv := startHTTP(t, false, request, response)
		ct := &config.Target{Protocol: "http", Host: "127.0.0.1", Port: srv.port(), DeepCheck: true,
			RequestURI: "/healthz", ExpectedStatus: statuses, ExpectedText: text,
			Headers: map[string]string{"host": "webmail.example.org", "X-Probe": "1", "X-Api-Key": "k3y-s3cret"}}
		tg, err := NewTarget(ct)
		if err != nil {
			t.Fatal(err)
		}
		res := deep(t, tg)
		for _, line := range res.Transcript {
			if strings.Contains(line, "k3y-s3cret") {
				t.Errorf("transcript shows the API key: %q", line)
			}
		}
		return res
	}
	t.Run("200 by default", func(t *testing.T) {
		res := run(t, nil, "", httpResponse("HTTP/1.1 200 OK", ""))
		expectOK(t, res)
		if !slices.Contains(res.Transcript, "C: X-Api-Key: <redacted>") || !slices.Contains(res.Transcript, "C: X-Probe: 1") {
			t.Errorf("transcript = %q", res.Transcript)
		}
	})
	t.Run("204 fails by default", func(t *testing.T) {
		expectFail(t, run(t, nil, "", httpResponse("HTTP/1.1 204 No Content", "")), ReasonProtocol, "HTTP request failed: HTTP/1.1 204 No Content")
	})
	t.Run("listed 503 passes", func(t *testing.T) {
		expectOK(t, run(t, []int{200, 503}, "", httpResponse("HTTP/1.1 503 Service Unavailable", "")))
	})
	t.Run("text found", func(t *testing.T) {
		expectOK(t, run(t, nil, `"status":"up"`, httpResponse("HTTP/1.1 200 OK", "{\"status\":\"up\"}\r\n")))
	})
	t.Run("text missing", func(t *testing.T) {
		expectFail(t, run(t, nil, `"status":"up"`, httpResponse("HTTP/1.1 200 OK", "{\"status\":\"down\"}\r\n")),
			ReasonProtocol, `does not contain "\"status\":\"up\""`)
	})
}
