package main

import "testing"

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
	s, ok := parseWrk([]byte(wrkOutput))
	if !ok || s.rps != 19503.41 || s.requests != 58512 || s.non2xx != 3 || s.sockErrs != "Socket errors: connect 0, read 2, write 0, timeout 0" {
		t.Fatalf("%+v %v", s, ok)
	}
	if _, ok := parseWrk([]byte("unable to connect to 127.0.0.1:1 Connection refused\n")); ok {
		t.Fatal("output without Requests/sec accepted")
	}
}

func TestStatTicks(t *testing.T) {
	// pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime ...
	stat := "4242 (back line) S 1 4242 4242 0 -1 4194560 1000 0 0 0 1234 567 0 0 20 0 9 0 100 0 0\n"
	if got := statTicks(stat); got != 1234+567 {
		t.Fatalf("ticks %d", got)
	}
}
