package gateway

import (
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/probe"
)

// originSet is a backend's origins when it lists them under origins: the
// balancing policy, the retry budget and each origin's live counters. It
// belongs to the backend's runtime, so refinements share it.
type originSet struct {
	label   string
	retries int
	retryOn retryConds // retry_on
	origins []*upstreamOrigin

	next atomic.Uint64 // round robin position; least_connections' tie-break

	wrrMu sync.Mutex // smooth weighted round robin state (upstreamOrigin.current)

	pick      picker        // load_balancing (balance_pick.go, balance_hash.go, balance_random.go)
	hashKey   hashKeySource // what a hash policy hashes; nil for the others
	slowStart time.Duration // slow_start; 0: off (balance_slowstart.go)
	// clock is what a pick takes as now (ejection ends, slow start);
	// tests replace it.
	clock func() time.Time
	// randN is a random number in [0, n) for random and p2c
	// (balance_random.go): math/rand/v2's lock-free generator; tests
	// replace it with a seeded one.
	randN func(n uint64) uint64

	// index caches the origins' standing in the last snapshot seen, so a
	// pick neither searches the snapshot nor derives it again
	// (origins_judge.go); noHealth is the same without a health source.
	index, noHealth atomic.Pointer[snapshotIndex]

	panic originPanic // panic_threshold (origins_panic.go)
}

// upstreamOrigin is one origin of a set.
type upstreamOrigin struct {
	id       string // health registry ID: gateway:<label>@<scheme>://<host>:<port>
	name     string // health target name and metric label: <label>@<host>:<port>
	origin   origin
	hostPort string       // origin.hostPort(), built once
	raw      string       // as configured (its path is the default probe path)
	weight   int          // configured; the registry's effective weight wins when known
	backup   bool         // taken only when no primary (non-backup) origin is admitted
	inFlight atomic.Int64 // requests sent and not yet finished (least_connections)
	doneFunc func()       // lowers inFlight; bound once (exchange.onDone)
	current  int          // smooth weighted round robin, under originSet.wrrMu
	seed     uint64       // rendezvous hashing: the hash of scheme://host:port
	ramp     *originRamp  // slow_start state, kept across reloads
	// requests is the origin's backline_gateway_origin_requests_total
	// series, looked up by its labels at its first request only (not at
	// build: a configuration that never serves creates no series).
	requests atomic.Pointer[prometheus.Counter]
}

// countRequest counts a request sent to o, of the backend label.
func (o *upstreamOrigin) countRequest(m *metrics, label string) {
	if c := o.requests.Load(); c != nil {
		(*c).Inc()
		return
	}
	c := m.origins.requests.WithLabelValues(label, o.name)
	o.requests.Store(&c)
	c.Inc()
}

// newOriginSet builds the set of a backend with origins (nil without);
// ramps carries each origin's slow start across reloads (nil: a set of its
// own, as on the first configuration).
func newOriginSet(label string, b *config.Backend, ramps *rampMemory) *originSet {
	if !b.HasSeveralOrigins() {
		return nil
	}
	s := &originSet{label: label, retries: config.DefaultRetries, slowStart: b.SlowStart, clock: time.Now, randN: rand.Uint64N}
	s.pick, s.hashKey = newPicker(b)
	if s.hashKey != nil {
		s.slowStart = 0 // a hash policy has no share to ramp (docs/gateway.md#slow-start)
	}
	if b.Retries != nil {
		s.retries = *b.Retries
	}
	s.retryOn = parseRetryOn(b.RetryOn)
	s.panic = newOriginPanic(b)
	for _, e := range b.Origins {
		o, err := parseOrigin(e.Origin)
		if err != nil || len(s.origins) == config.MaxOrigins {
			continue // config validation refused it already
		}
		w := 1
		if e.Weight != nil {
			w = *e.Weight
		}
		u := &upstreamOrigin{
			id:     BackendID(label, o.scheme, o.hostPort()),
			name:   label + "@" + o.hostPort(),
			origin: o, hostPort: o.hostPort(), raw: e.Origin, weight: w, backup: e.Backup,
		}
		u.doneFunc = func() { u.inFlight.Add(-1) }
		u.seed = hashString(o.scheme + "://" + o.hostPort())
		u.ramp = ramps.forOrigin(u.id)
		if s.slowStart == 0 {
			// Not observed while slow start is off: an origin this reload
			// adds would stay "not yet seen" and ramp, long after, on the
			// reload that turns slow_start on.
			u.ramp.state.CompareAndSwap(rampDown, rampSteady)
		}
		s.origins = append(s.origins, u)
	}
	return s
}

// candidate is an origin a pick may choose, its effective weight and its
// slow start share (fullShare when not ramping).
type candidate struct {
	o      *upstreamOrigin
	weight int
	share  int
}

// candidates are the origins not yet tried that health admits, best tier
// only: eligible primaries; else eligible backups; with
// use_when_unhealthy, else every primary an operator has not taken out
// (maint, drain, forced down, weight 0), as the backend gate does; else
// such backups. A retry passes the origins it tried, so it moves to the
// next primary first and to the backups once no primary is left.
// Without a health source, or before the origin shows up in it, an origin
// is admitted with its configured weight, unless that is 0.
func (s *originSet) candidates(snap *health.Snapshot, now time.Time, tried []*upstreamOrigin, useWhenUnhealthy bool, buf []candidate) []candidate {
	j := s.judge(snap, now)
	return s.candidatesOf(&j, now, tried, useWhenUnhealthy, buf)
}

// candidatesOf is candidates from a judgement made at now.
func (s *originSet) candidatesOf(j *originJudgement, now time.Time, tried []*upstreamOrigin, useWhenUnhealthy bool, buf []candidate) []candidate {
	out := buf[:0]
	best := tierNone
	for i, o := range s.origins {
		if containsOrigin(tried, o) {
			continue
		}
		tier, eligible := s.tierOf(j, i, useWhenUnhealthy)
		share := fullShare
		if s.slowStart > 0 {
			// Seen for every origin, so a way back from tierNone is noticed.
			share = o.ramp.observe(eligible, now, s.slowStart)
		}
		switch {
		case tier == tierNone:
		case tier < best:
			out, best = append(out[:0], candidate{o, j.idx.standing[i].weight, share}), tier
		case tier == best:
			out = append(out, candidate{o, j.idx.standing[i].weight, share})
		}
	}
	return out
}

// tierOf is origin i's candidate tier in j (tierNone: not admitted) and
// whether health admits it: panic and use_when_unhealthy admit more, but
// only a way back to eligible starts a slow start ramp (an unhealthy
// origin panic admits gets its full share).
func (s *originSet) tierOf(j *originJudgement, i int, useWhenUnhealthy bool) (tier int, eligible bool) {
	backup, usable := s.origins[i].backup, j.idx.standing[i].usable
	eligible = j.eligible(i)
	switch {
	case eligible:
		tier = tierEligible
	case j.panic.promotes(backup, usable):
		tier = tierEligible // panic_threshold: as if eligible
	case useWhenUnhealthy && usable:
		// Not taken out by an operator, as the backend gate and the
		// panic count judge it.
		tier = tierFallback
	default:
		return tierNone, false
	}
	if backup {
		tier++ // eligible backup before unhealthy primary: tiers interleave
	}
	return tier, eligible
}

// Candidate tiers, best first: a pick draws only from the best tier that
// has an origin.
const (
	tierEligible       = iota // eligible primary
	tierEligibleBackup        // eligible backup
	tierFallback              // use_when_unhealthy: unhealthy primary
	tierFallbackBackup        // use_when_unhealthy: unhealthy backup
	tierNone                  // not admitted
)

func containsOrigin(list []*upstreamOrigin, o *upstreamOrigin) bool {
	for _, x := range list {
		if x == o {
			return true
		}
	}
	return false
}

// originsHealthGroup is the health group of a backend with origins: one
// target per origin, each with its own registry ID (so admin state, weight
// and passive ejections are per origin), the configured weights, and the
// backend's passive_health as the group's policy.
func originsHealthGroup(label string, b *config.Backend, rt *backendRuntime) health.Group {
	h := b.Health
	// passive_health alone: origins take traffic from the start (Couper).
	g := health.Group{Name: GroupPrefix + label, InitialHealthy: true}
	g.PanicThreshold = b.PanicThresholdOf() // for the status API
	if h != nil {
		g.InitialHealthy = initialHealthy(h)
		g.ConnectInterval, g.DeepInterval = h.Interval, h.Interval
		g.FastInterval, g.DownInterval = h.FastInterval, h.DownInterval
		g.FailureThreshold, g.RecoveryThreshold = *h.FailureThreshold, *h.RecoveryThreshold
	} else {
		// passive_health alone: registry targets that are never probed.
		g.PassiveOnly = true
		g.ConnectInterval, g.DeepInterval = time.Hour, time.Hour
		g.FailureThreshold, g.RecoveryThreshold = 1, 1
	}
	for _, o := range rt.origins.origins {
		t, ok := passiveOnlyTarget(o)
		if h != nil {
			t, ok = healthTarget(o.name, o.raw, b, rt)
		}
		if !ok {
			continue
		}
		g.Targets = append(g.Targets, t)
		g.IDs = append(g.IDs, o.id)
		g.Weights = append(g.Weights, o.weight)
		g.Backups = append(g.Backups, o.backup)
	}
	if p := b.PassiveHealth; p != nil {
		g.Passive = &health.PassivePolicy{
			Consecutive:        p.Consecutive5xx,
			Interval:           p.Interval,
			BaseEjection:       p.BaseEjectionTime,
			MaxEjection:        p.MaxEjectionTime,
			MaxEjectionPercent: p.MaxEjectionPercent,
		}
	}
	return g
}

// passiveOnlyTarget describes an origin that passive health watches and no
// probe checks: the registry needs a target for its ID, name and address.
func passiveOnlyTarget(o *upstreamOrigin) (*probe.Target, bool) {
	host, portText, err := net.SplitHostPort(o.origin.hostPort())
	if err != nil {
		return nil, false
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return nil, false
	}
	t := &probe.Target{Name: o.name, Protocol: config.ProtoHTTP, Host: host, Port: port, TLSMode: probe.TLSPlain}
	if o.origin.scheme == "https" {
		t.TLSMode = probe.TLSImplicit
	}
	return t, true
}
