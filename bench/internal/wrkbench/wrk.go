package wrkbench

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Sample is wrk's summary of one run.
type Sample struct {
	RPS      float64
	Requests int64
	Non2xx   int64
	SockErrs string // wrk's "Socket errors:" line, empty when it printed none
}

var (
	rpsRe    = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	totalRe  = regexp.MustCompile(`(\d+) requests in`)
	non2xxRe = regexp.MustCompile(`Non-2xx or 3xx responses:\s+(\d+)`)
	sockRe   = regexp.MustCompile(`Socket errors:[^\n]*`)
)

// ParseWrk reads wrk's summary: req/s, the request count, non-2xx
// answers and the socket error line; false without a Requests/sec line.
func ParseWrk(out []byte) (Sample, bool) {
	var s Sample
	m := rpsRe.FindSubmatch(out)
	if m == nil {
		return s, false
	}
	s.RPS, _ = strconv.ParseFloat(string(m[1]), 64)
	if m := totalRe.FindSubmatch(out); m != nil {
		s.Requests, _ = strconv.ParseInt(string(m[1]), 10, 64)
	}
	if m := non2xxRe.FindSubmatch(out); m != nil {
		s.Non2xx, _ = strconv.ParseInt(string(m[1]), 10, 64)
	}
	if m := sockRe.Find(out); m != nil {
		s.SockErrs = string(m)
	}
	return s, true
}

// Wrk is one wrk run: one thread pinned to CPU, Conns connections for
// Duration (whole seconds, at least one), Extra arguments before the URL.
type Wrk struct {
	Bin      string
	CPU      int
	Conns    int
	Duration time.Duration
	Extra    []string
}

// Run runs wrk against url and returns its summary; any failure is fatal.
func (w Wrk) Run(url string) Sample {
	secs := max(1, int(w.Duration.Round(time.Second).Seconds()))
	args := append([]string{"-t1", "-c" + strconv.Itoa(w.Conns), "-d" + strconv.Itoa(secs) + "s"}, w.Extra...)
	cmd := Pinned(w.CPU, w.Bin, append(args, url)...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	// wrk is short-lived; it still goes on the kill list.
	if err := Start(cmd); err != nil {
		Fatalf("wrk: %v", err)
	}
	if err := cmd.Wait(); err != nil {
		Fatalf("wrk: %v\n%s", err, out.String())
	}
	s, ok := ParseWrk([]byte(out.String()))
	if !ok {
		Fatalf("wrk: no Requests/sec in\n%s", out.String())
	}
	return s
}

// NginxAuthHeaders are nginx's auth_http request for user1 (a test account
// on loopback only).
var NginxAuthHeaders = map[string]string{
	"Auth-Method": "plain", "Auth-User": "user1", "Auth-Pass": "password-1", "Auth-Protocol": "imap",
	"Auth-Login-Attempt": "1", "Client-IP": "192.0.2.1",
}

// AuthOK sends NginxAuthHeaders to url once; true when backline answers OK
// with a server (the first health round done), else what it got instead.
func AuthOK(client *http.Client, url string) (bool, string) {
	r, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	for k, v := range NginxAuthHeaders {
		r.Header.Set(k, v)
	}
	resp, err := client.Do(r)
	if err != nil {
		return false, err.Error()
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.Header.Get("Auth-Status") == "OK" && resp.Header.Get("Auth-Server") != "" {
		return true, ""
	}
	return false, fmt.Sprint(resp.Header)
}

// ConfigHead is the start of a backline config both benchmarks use: the
// API on addr, a long auth cache TTL, and connect health checks of the
// IMAP targets that start healthy and re-run hourly. The passdb section
// follows under auth:.
func ConfigHead(addr, logLevel string, targets []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "server:\n  address: \"%s\"\n  log_level: %s\n", addr, logLevel)
	b.WriteString("auth:\n  cache:\n    ttl: 1h\n  services:\n    enabled: [backend_health_checks]\n    backend_health_checks:\n")
	b.WriteString("      connect_interval: 1h\n      jitter: 0\n      initial_state: healthy\n      targets:\n")
	for i, t := range targets {
		host, port, _ := net.SplitHostPort(t)
		fmt.Fprintf(&b, "        - {name: imap-%d, protocol: imap, host: \"%s\", port: %s}\n", i, host, port)
	}
	return b.String()
}
