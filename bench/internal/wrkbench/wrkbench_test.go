package wrkbench

import (
	"strings"
	"testing"
)

const wrkOutput = `Running 3s test @ http://127.0.0.1:40001/api/v1/auth/nginx
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   812.35us  301.12us   8.90ms   90.12%
    Req/Sec    19.61k     1.02k   21.03k    70.00%
  58512 requests in 3.00s, 13.45MB read
  Socket errors: connect 0, read 2, write 0, timeout 0
  Non-2xx or 3xx responses: 3
Requests/sec:  19503.41
Transfer/sec:      4.48MB
`

func TestParseWrk(t *testing.T) {
	s, ok := ParseWrk([]byte(wrkOutput))
	if !ok || s.RPS != 19503.41 || s.Requests != 58512 || s.Non2xx != 3 || s.SockErrs != "Socket errors: connect 0, read 2, write 0, timeout 0" {
		t.Fatalf("%+v %v", s, ok)
	}
	s, ok = ParseWrk([]byte("  1234 requests in 3.00s, 1.00MB read\n  Non-2xx or 3xx responses: 7\nRequests/sec:  411.33\n"))
	if !ok || s.RPS != 411.33 || s.Requests != 1234 || s.Non2xx != 7 || s.SockErrs != "" {
		t.Fatalf("%+v %v", s, ok)
	}
	for _, bad := range []string{"unable to connect to 127.0.0.1:1 Connection refused\n", "garbage", ""} {
		if _, ok := ParseWrk([]byte(bad)); ok {
			t.Fatalf("output without Requests/sec accepted: %q", bad)
		}
	}
}

func TestStatTicks(t *testing.T) {
	for _, tc := range []struct {
		stat string
		want int64
	}{
		// pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime ...
		{"4242 (back line) S 1 4242 4242 0 -1 4194560 1000 0 0 0 1234 567 0 0 20 0 9 0 100 0 0\n", 1234 + 567},
		{"42 (a b) c) S 1 1 1 0 -1 0 0 0 0 0 7 5 0 0 20 0 1 0", 12},
	} {
		if got, ok := StatTicks(tc.stat); !ok || got != tc.want {
			t.Fatalf("%q: ticks %d %v, want %d", tc.stat, got, ok, tc.want)
		}
	}
	for _, bad := range []string{"", "42 no parenthesis S 1 1 1 0 -1 0 0 0 0 0 7 5", "42 (short) S 1 2"} {
		if _, ok := StatTicks(bad); ok {
			t.Fatalf("%q accepted", bad)
		}
	}
}

func TestConfigHead(t *testing.T) {
	got := ConfigHead("127.0.0.1:9", "warn", []string{"127.0.0.1:1143", "127.0.0.1:1144"})
	for _, want := range []string{
		"server:\n  address: \"127.0.0.1:9\"\n  log_level: warn\nauth:\n",
		"        - {name: imap-0, protocol: imap, host: \"127.0.0.1\", port: 1143}\n",
		"        - {name: imap-1, protocol: imap, host: \"127.0.0.1\", port: 1144}\n",
	} {
		if !strings.Contains(got, want) {
			t.Fatalf("missing %q in\n%s", want, got)
		}
	}
}

func TestPerReq(t *testing.T) {
	if got := PerReq(100, 0, 100); got != "-" {
		t.Fatal(got)
	}
	if got := PerReq(100, 1000, 100); got != "1000.0 µs" {
		t.Fatal(got)
	}
}
