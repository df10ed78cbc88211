package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The answers the generated configuration gives, so the load generator can
// tell them apart without the daemon's log.
const (
	failureMessage  = "soak: invalid login"
	tempfailMessage = "soak: temporary failure"
	noBackendWait   = 7 // Auth-Wait of a "no healthy backend" tempfail
)

// Kinds of users. One user in badEvery (-bad-every, default 100: 1 %)
// misbehaves in the filter, the kind rotating over loop, alloc and error.
var badKinds = []string{"loop", "alloc", "error"}

const kindNormal = "normal"

var badEvery = 100

// userName is user i's login name; the filter reads the kind from it.
func userName(i int) string {
	if kind := userKind(i); kind != kindNormal {
		return fmt.Sprintf("bad-%s-%d", kind, i)
	}
	return fmt.Sprintf("user%d", i)
}

func userKind(i int) string {
	if badEvery > 0 && i%badEvery == 0 {
		return badKinds[(i/badEvery)%len(badKinds)]
	}
	return kindNormal
}

func userPassword(i int) string { return "pw-" + strconv.Itoa(i) }

// Outcomes of one request as nginx would see it.
const (
	outOK             = "ok"
	outOKNoServer     = "ok-without-server"
	outTempfail       = "tempfail"
	outTempfailNoBack = "tempfail-no-backend"
	outFail           = "fail"
	outOtherStatus    = "other-auth-status"
	outHTTPError      = "http-error"
	outTransport      = "transport-error"
)

// loadResult is what the load generator process prints as JSON.
type loadResult struct {
	Elapsed  time.Duration             `json:"elapsed"`
	Outcomes map[string]map[string]int `json:"outcomes"` // kind -> outcome -> count
	Servers  map[string]int            `json:"servers"`  // "ip:port" of OK answers -> count
	Examples map[string][]string       `json:"examples"` // "kind/outcome" -> a few samples
	// Latencies of the normal users, and the longest answer per kind.
	NormalP50 time.Duration            `json:"normal_p50"`
	NormalP99 time.Duration            `json:"normal_p99"`
	MaxByKind map[string]time.Duration `json:"max_by_kind"`
}

const maxExamples = 5

// runLoadgen is the load generator process: workers keep-alive clients,
// each taking the next user in turn, until duration passes or SIGINT.
func runLoadgen(url string, workers, users int, duration, clientTimeout time.Duration) {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	ctx, cancelRun := context.WithTimeout(ctx, duration)
	defer cancelRun()

	tr := &http.Transport{
		MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers, DisableCompression: true,
		DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}
	client := &http.Client{Transport: tr, Timeout: clientTimeout}
	start := time.Now()
	var next atomic.Int64
	var mu sync.Mutex
	res := loadResult{
		Outcomes: map[string]map[string]int{}, Servers: map[string]int{},
		Examples: map[string][]string{}, MaxByKind: map[string]time.Duration{},
	}
	var normalLat []time.Duration
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			var lat []time.Duration
			local := loadResult{Outcomes: map[string]map[string]int{}, Servers: map[string]int{},
				Examples: map[string][]string{}, MaxByKind: map[string]time.Duration{}}
			for ctx.Err() == nil {
				i := int(next.Add(1)-1) % users
				kind := userKind(i)
				t0 := time.Now()
				outcome, detail := oneLogin(ctx, client, url, i)
				d := time.Since(t0)
				if outcome == outTransport && ctx.Err() != nil {
					break // cut off by the end of the run, not the daemon's doing
				}
				local.add(kind, outcome, detail, fmt.Sprintf("t=%.1fs user=%s %s (%s)",
					t0.Sub(start).Seconds(), userName(i), detail, d.Round(time.Millisecond)))
				local.MaxByKind[kind] = max(local.MaxByKind[kind], d)
				if kind == kindNormal {
					lat = append(lat, d)
				}
			}
			mu.Lock()
			res.merge(local)
			normalLat = append(normalLat, lat...)
			mu.Unlock()
		})
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	slices.Sort(normalLat)
	if n := len(normalLat); n > 0 {
		res.NormalP50, res.NormalP99 = normalLat[n/2], normalLat[n*99/100]
	}
	_ = json.NewEncoder(os.Stdout).Encode(res)
}

func (r *loadResult) add(kind, outcome, server, example string) {
	if r.Outcomes[kind] == nil {
		r.Outcomes[kind] = map[string]int{}
	}
	r.Outcomes[kind][outcome]++
	if outcome == outOK {
		r.Servers[server]++
		return
	}
	// The expected answers need no examples: misbehaving users tempfail.
	if kind != kindNormal && outcome == outTempfail {
		return
	}
	key := kind + "/" + outcome
	if len(r.Examples[key]) < maxExamples {
		r.Examples[key] = append(r.Examples[key], example)
	}
}

func (r *loadResult) merge(o loadResult) {
	for kind, m := range o.Outcomes {
		if r.Outcomes[kind] == nil {
			r.Outcomes[kind] = map[string]int{}
		}
		for out, n := range m {
			r.Outcomes[kind][out] += n
		}
	}
	for s, n := range o.Servers {
		r.Servers[s] += n
	}
	for k, ex := range o.Examples {
		r.Examples[k] = append(r.Examples[k], ex...)[:min(maxExamples, len(r.Examples[k])+len(ex))]
	}
	for k, d := range o.MaxByKind {
		r.MaxByKind[k] = max(r.MaxByKind[k], d)
	}
}

// oneLogin sends user i's nginx auth_http request and classifies the
// answer. For an OK, detail is the "ip:port" handed to nginx; otherwise a
// short description.
func oneLogin(ctx context.Context, client *http.Client, url string, i int) (outcome, detail string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return outTransport, err.Error()
	}
	h := req.Header
	h.Set("Auth-Method", "plain")
	h.Set("Auth-User", userName(i))
	h.Set("Auth-Pass", userPassword(i))
	h.Set("Auth-Protocol", "imap")
	h.Set("Auth-Login-Attempt", "1")
	h.Set("Client-IP", "192.0.2.1")
	resp, err := client.Do(req)
	if err != nil {
		return outTransport, err.Error()
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return outHTTPError, "HTTP " + resp.Status
	}
	status := resp.Header.Get("Auth-Status")
	switch status {
	case "OK":
		server, port := resp.Header.Get("Auth-Server"), resp.Header.Get("Auth-Port")
		_, ipErr := netip.ParseAddr(server)
		p, portErr := strconv.Atoi(port)
		if ipErr != nil || portErr != nil || p < 1 || p > 65535 {
			return outOKNoServer, fmt.Sprintf("Auth-Server=%q Auth-Port=%q", server, port)
		}
		return outOK, net.JoinHostPort(server, port)
	case tempfailMessage:
		if resp.Header.Get("Auth-Wait") == strconv.Itoa(noBackendWait) {
			return outTempfailNoBack, "no healthy backend"
		}
		return outTempfail, "tempfail"
	case failureMessage:
		return outFail, "failure"
	default:
		return outOtherStatus, fmt.Sprintf("Auth-Status=%q", status)
	}
}
