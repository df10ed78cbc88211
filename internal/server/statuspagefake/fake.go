// Package statuspagefake builds health snapshots for tests of the status
// page: all healthy, broken in every way the page distinguishes, one
// drained backend, and large ones. Times are relative to a given now so
// that ages and certificate expiry are deterministic.
package statuspagefake

import (
	"fmt"
	"time"

	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/probe"
)

// Hostile is a backend name meant to break out of HTML, attributes and
// scripts, with quotes and non-ASCII text.
const Hostile = `<script>alert("x")</script>'"><img src=x onerror=alert(1)> ünïcødé ‮rtl`

// Target returns a snapshot target.
func Target(name, protocol, host string, port int, deep bool) *health.TargetInfo {
	return &health.TargetInfo{Name: name, Protocol: protocol, Host: host, Port: port,
		TLSMode: probe.TLSPlain, DeepCheck: deep}
}

// ready is the admin state a backend has from its configuration.
var ready = health.Admin{State: health.AdminReady, Weight: 1, Health: health.HealthAuto, Source: health.SourceConfig}

// history makes a summary whose last hour has latencies around base and
// failures in the minutes where fail says so.
func history(now time.Time, base time.Duration, fail func(minute int) bool) *health.HistorySummary {
	h := &health.HistorySummary{End: now, Checks1h: 360}
	for i := range h.Minutes {
		p := &h.Minutes[i]
		p.Checks, p.Up = 6, 6
		if fail != nil && fail(i) {
			p.Fails, p.Up = 6, 0
			continue
		}
		jitter := time.Duration((i*7)%11) * base / 10
		p.Min, p.Avg, p.Max = base, base+jitter, base+2*jitter
	}
	return h
}

// uptime is a backend checked all through a week with these ratios.
func uptime(hour, day, week float64) health.UptimeSummary {
	return health.UptimeSummary{Hour: health.UptimeWindow{Ratio: hour, Checked: time.Hour},
		Day:  health.UptimeWindow{Ratio: day, Checked: 24 * time.Hour},
		Week: health.UptimeWindow{Ratio: week, Checked: 7 * 24 * time.Hour}}
}

// Healthy returns a healthy, eligible backend checked a few seconds ago.
func Healthy(t *health.TargetInfo, group string, now time.Time) health.Backend {
	last := now.Add(-3 * time.Second)
	ok := health.PhaseState{Healthy: true, LastCheck: last, LastSuccess: last, Latency: 2 * time.Millisecond}
	b := health.Backend{ID: t.Name, Group: group, Weight: 1, Target: t, Eligible: true, Healthy: true,
		Since: now.Add(-26 * time.Hour), Connect: ok, Admin: ready,
		History: history(now, 2*time.Millisecond, nil), Uptime: uptime(1, 1, 1)}
	if t.DeepCheck {
		b.Deep = ok
		b.Deep.Latency = 9 * time.Millisecond
		b.Mechanism = "PLAIN"
		b.History = history(now, 9*time.Millisecond, nil)
	}
	return b
}

// Down returns an unhealthy backend whose last check failed with reason
// and text, down for the last ten minutes.
func Down(t *health.TargetInfo, group string, now time.Time, reason probe.Reason, text string) health.Backend {
	b := Healthy(t, group, now)
	b.Healthy, b.Eligible, b.Reason = false, false, health.ReasonUnhealthy
	b.Since = now.Add(-10 * time.Minute)
	b.Connect.Healthy, b.Connect.LastError, b.Connect.LastReason = false, text, reason
	b.Connect.ConsecutiveFailures = 5
	b.History = history(now, 2*time.Millisecond, func(m int) bool { return m >= 50 })
	b.Uptime = uptime(50.0/60, 0.99, 0.9985)
	return b
}

// AllHealthy: six mail backends and a gateway backend, all fine.
func AllHealthy(now time.Time) *health.Snapshot {
	s := &health.Snapshot{Taken: now.Add(-2 * time.Second), Round: 42}
	for i := range 4 {
		s.Backends = append(s.Backends, Healthy(Target(fmt.Sprintf("imap%02d", i+1), "imap",
			fmt.Sprintf("10.0.1.%d", i+1), 143, true), health.GroupMail, now))
	}
	for i := range 2 {
		s.Backends = append(s.Backends, Healthy(Target(fmt.Sprintf("pop%02d", i+1), "pop3",
			fmt.Sprintf("10.0.2.%d", i+1), 110, false), health.GroupMail, now))
	}
	s.Backends = append(s.Backends, Healthy(Target("gateway:web@http://10.0.3.1:8080", "http", "10.0.3.1", 8080, false), "gateway:web", now))
	return s
}

// Broken: the healthy set with a refused backend, a TLS failure with an
// ephemeral local port in its text, an auth failure, a stale backend, a
// certificate expiring in 2 days and one in 10 days, and a hostile name.
func Broken(now time.Time) *health.Snapshot {
	s := AllHealthy(now)
	bs := s.Backends
	bs[1] = Down(bs[1].Target, health.GroupMail, now, probe.ReasonRefused,
		"dial tcp 10.0.1.2:143: connect: connection refused")
	bs[2] = Down(bs[2].Target, health.GroupMail, now, probe.ReasonTLS,
		"read tcp 127.0.0.1:54321->10.0.1.3:143: tls: failed to verify certificate")
	bs[4] = Down(bs[4].Target, health.GroupMail, now, probe.ReasonAuth, "login rejected: -ERR [AUTH] Authentication failed.")
	bs[3].Eligible, bs[3].Reason = false, health.ReasonStale
	bs[3].Connect.LastCheck = now.Add(-10 * time.Minute)
	bs[3].Deep.LastCheck = now.Add(-10 * time.Minute)
	bs[0].CertNotAfter = now.Add(2 * 24 * time.Hour)
	bs[5].CertNotAfter = now.Add(10 * 24 * time.Hour)
	bs[6].CertNotAfter = now.Add(200 * 24 * time.Hour)
	hostile := Healthy(Target(Hostile, "imap", "10.0.9.9", 143, false), health.GroupMail, now)
	s.Backends = append(bs, hostile)
	return s
}

// Many returns n backends in groups of protocols, with every 47th down
// and every 97th stale.
func Many(n int, now time.Time) *health.Snapshot {
	protocols := []struct {
		name string
		port int
	}{{"imap", 143}, {"pop3", 110}, {"smtp", 25}, {"lmtp", 24}, {"sieve", 4190}}
	s := &health.Snapshot{Taken: now.Add(-time.Second), Round: 7}
	for i := range n {
		p := protocols[i%len(protocols)]
		t := Target(fmt.Sprintf("%s-mbox%04d", p.name, i), p.name,
			fmt.Sprintf("10.%d.%d.%d", i/65536%256, i/256%256, i%256), p.port, i%2 == 0)
		var b health.Backend
		switch {
		case i%47 == 7:
			b = Down(t, health.GroupMail, now, probe.ReasonTimeout,
				fmt.Sprintf("read tcp 127.0.0.1:%d->%s: i/o timeout", 40000+i, t.Address()))
		default:
			b = Healthy(t, health.GroupMail, now)
		}
		if i%97 == 11 {
			b.Eligible, b.Reason = false, health.ReasonStale
		}
		if i%10 == 3 {
			b.CertNotAfter = now.Add(time.Duration(i%20) * 24 * time.Hour)
		}
		s.Backends = append(s.Backends, b)
	}
	return s
}

// DrainedID is the backend Drained drains.
const DrainedID = "imap03"

// Drained: the healthy set with imap03 drained by alice for a disk swap,
// for 25 more minutes.
func Drained(now time.Time) *health.Snapshot {
	s := AllHealthy(now)
	b := &s.Backends[2]
	b.Eligible, b.Reason, b.Draining = false, health.ReasonDrain, true
	b.Admin = health.Admin{State: health.AdminDrain, Weight: 1, Health: health.HealthAuto,
		Who: "alice", Why: "disk swap", Since: now.Add(-5 * time.Minute), Until: now.Add(25 * time.Minute),
		Source: health.SourceAPI}
	return s
}
