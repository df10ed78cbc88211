package server

import (
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/backline/backline/internal/health"
)

// The JSON view of a snapshot. Times are RFC 3339 with nanoseconds in UTC;
// a time that never happened (no check yet, never succeeded, no TLS) is
// omitted rather than sent as null or the zero date. Credentials of a target
// (username, password) are not part of the view at all.

type backendsBody struct {
	Round    uint64        `json:"round"`
	Taken    *time.Time    `json:"taken,omitempty"`
	Backends []backendView `json:"backends"`
}

type backendView struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Group    string `json:"group"`
	Protocol string `json:"protocol"`
	Host     string `json:"host"`
	Port     int    `json:"port"`
	Healthy  bool   `json:"healthy"`
	Eligible bool   `json:"eligible"`
	Reason   string `json:"reason"`
	// Draining: admin state drain, or reason check_drain or agent_drain, on an otherwise
	// eligible backend. It takes no new users, but policy sticky keeps
	// sending the users stored for it (admin.since and admin.who say since
	// when and by whom; check_drain_since for a check drain).
	Draining bool `json:"draining"`
	// CheckDrainStatus: the http check answers this drain_on_status
	// status; left out otherwise. The reason is check_drain unless one
	// that comes first (maint, an admin drain, ...) is the backend's.
	CheckDrainStatus int `json:"check_drain_status,omitempty"`
	// CheckDrainSince: when that check drain began; left out otherwise.
	CheckDrainSince *time.Time `json:"check_drain_since,omitempty"`
	Weight          int        `json:"weight"`
	// Backup: a failover target (backup: true); left out for the others.
	Backup    bool      `json:"backup,omitempty"`
	Admin     adminView `json:"admin"`
	DeepCheck bool      `json:"deep_check"`
	TLSMode   string    `json:"tls_mode"`
	// ConnectCheck is connect_check in effect: greeting or tcp (always
	// tcp for http targets and gateway origins).
	ConnectCheck string `json:"connect_check"`
	HAProxyV2    bool   `json:"haproxy_v2"`
	// HAProxyV1: the checks send a PROXY v1 header (a gateway backend's
	// proxy_protocol: v1); left out for the others, so consumers of
	// haproxy_v2 see no change.
	HAProxyV1    bool       `json:"haproxy_v1,omitempty"`
	Since        *time.Time `json:"since,omitempty"`
	Connect      phaseView  `json:"connect"`
	Deep         phaseView  `json:"deep"`
	CertNotAfter *time.Time `json:"cert_not_after,omitempty"`
	Mechanism    string     `json:"mechanism,omitempty"`
	// CheckedAddr is the IP the last passed connect phase reached, the one
	// nginx answers carry; omitted before one.
	CheckedAddr string     `json:"checked_addr,omitempty"`
	Steps       []stepView `json:"steps"`
	// ClientCert is the client certificate the checks present (mTLS):
	// subject and expiry, nothing of the key. Omitted without one.
	ClientCert *clientCertView `json:"client_cert,omitempty"`
	// Passive health (gateway origins): the end of the last ejection and
	// how many there were; omitted for backends never ejected.
	EjectedUntil *time.Time `json:"ejected_until,omitempty"`
	Ejections    uint64     `json:"ejections,omitempty"`
	// Panic: the panic mode of a gateway backend with panic_threshold
	// (backends_panic.go); omitted for the others.
	Panic *panicView `json:"panic,omitempty"`
	// CheckInterval: how far apart the backend is probed now and why
	// (backends_interval.go); omitted for origins no check probes.
	CheckInterval *intervalView `json:"check_interval,omitempty"`
	// SlowStart: the running slow_start ramp of a gateway origin
	// (backends_slowstart.go); omitted when none runs.
	SlowStart *slowStartView `json:"slow_start,omitempty"`
	// Agent: what the backend's agent check said (backends_agent.go);
	// omitted without one.
	Agent *agentView `json:"agent,omitempty"`
	// Uptime over the last hour, day and week (docs/operations.md,
	// "Uptime").
	Uptime uptimeView `json:"uptime"`
}

// uptimeView is a backend's uptime by window, as Gatus and Uptime Kuma
// show it: 1h, 24h, 7d.
type uptimeView struct {
	Hour uptimeWindowView `json:"1h"`
	Day  uptimeWindowView `json:"24h"`
	Week uptimeWindowView `json:"7d"`
}

// uptimeWindowView: Ratio is the share of the checked time the backend
// was healthy, null when nothing in the window was checked;
// CheckedSeconds is how much of the window that was (less than the window
// after a start, or while checks were paused or stopped).
type uptimeWindowView struct {
	Ratio          *float64 `json:"ratio"`
	CheckedSeconds float64  `json:"checked_seconds"`
}

func viewUptime(u health.UptimeSummary) uptimeView {
	one := func(w health.UptimeWindow) uptimeWindowView {
		v := uptimeWindowView{CheckedSeconds: float64(w.Checked.Milliseconds()) / 1000}
		if w.Checked > 0 {
			r := w.Ratio
			v.Ratio = &r
		}
		return v
	}
	return uptimeView{Hour: one(u.Hour), Day: one(u.Day), Week: one(u.Week)}
}

type phaseView struct {
	Healthy              bool       `json:"healthy"`
	LastCheck            *time.Time `json:"last_check,omitempty"`
	LastSuccess          *time.Time `json:"last_success,omitempty"`
	LastError            string     `json:"last_error,omitempty"`
	LastReason           string     `json:"last_reason,omitempty"`
	LatencyMS            float64    `json:"latency_ms"`
	ConsecutiveFailures  int        `json:"consecutive_failures"`
	ConsecutiveSuccesses int        `json:"consecutive_successes"`
}

type clientCertView struct {
	Subject  string     `json:"subject"`
	NotAfter *time.Time `json:"not_after,omitempty"`
}

type stepView struct {
	Name       string  `json:"name"`
	DurationMS float64 `json:"duration_ms"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func addrText(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

func millis(d time.Duration) float64 {
	// Three decimals (microseconds) are plenty and keep the JSON readable.
	return float64(d.Microseconds()) / 1000
}

func viewPhase(p health.PhaseState) phaseView {
	return phaseView{
		Healthy:              p.Healthy,
		LastCheck:            timePtr(p.LastCheck),
		LastSuccess:          timePtr(p.LastSuccess),
		LastError:            p.LastError,
		LastReason:           string(p.LastReason),
		LatencyMS:            millis(p.Latency),
		ConsecutiveFailures:  p.ConsecutiveFailures,
		ConsecutiveSuccesses: p.ConsecutiveSuccesses,
	}
}

// backendName is the target's configured name, or protocol://host:port when
// it has none.
func backendName(t *health.TargetInfo) string {
	if t.Name != "" {
		return t.Name
	}
	return t.Protocol + "://" + t.Address()
}

func viewBackend(b health.Backend) backendView {
	t := b.Target
	if t == nil {
		t = &health.TargetInfo{}
	}
	v := backendView{
		ID:               b.ID,
		Name:             backendName(t),
		Group:            b.Group,
		Protocol:         t.Protocol,
		Host:             t.Host,
		Port:             t.Port,
		Healthy:          b.Healthy,
		Eligible:         b.Eligible,
		Reason:           string(b.Reason),
		Draining:         b.Draining,
		CheckDrainStatus: b.CheckDrainStatus,
		CheckDrainSince:  timePtr(b.CheckDrainSince),
		Weight:           b.Weight,
		Backup:           b.Backup,
		Admin:            viewAdmin("", b.Admin),
		DeepCheck:        t.DeepCheck,
		TLSMode:          string(t.TLSMode),
		ConnectCheck:     t.ConnectCheck,
		HAProxyV2:        t.HAProxyV2,
		HAProxyV1:        t.HAProxyV1,
		Since:            timePtr(b.Since),
		Connect:          viewPhase(b.Connect),
		Deep:             viewPhase(b.Deep),
		CertNotAfter:     timePtr(b.CertNotAfter),
		Mechanism:        b.Mechanism,
		CheckedAddr:      addrText(b.Addr),
		Steps:            make([]stepView, 0, len(b.Steps)),
		EjectedUntil:     timePtr(b.EjectedUntil),
		Ejections:        b.Ejections,
		CheckInterval:    viewInterval(b.Schedule),
		Uptime:           viewUptime(b.Uptime),
		Agent:            viewAgent(b.Agent),
	}
	for _, st := range b.Steps {
		v.Steps = append(v.Steps, stepView{Name: st.Name, DurationMS: millis(st.Duration)})
	}
	if t.ClientCertSubject != "" {
		v.ClientCert = &clientCertView{Subject: t.ClientCertSubject, NotAfter: timePtr(t.ClientCertNotAfter)}
	}
	return v
}

func (s *Server) snapshot() *health.Snapshot {
	if s.opts.Snapshot == nil {
		return nil
	}
	return s.opts.Snapshot.Snapshot()
}

// listBackends serves GET /api/v1/backends in configuration order. With
// ?name=X it serves that one backend instead: names look like
// imap://host:993, and a "//" inside a URL path gets cleaned away by
// routers and proxies, so the query form is the reliable one.
func (s *Server) listBackends(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Has("name") {
		s.writeBackend(w, r.URL.Query().Get("name"))
		return
	}
	body := backendsBody{Backends: []backendView{}}
	if snap := s.snapshot(); snap != nil {
		body.Round = snap.Round
		body.Taken = timePtr(snap.Taken)
		panics, now := map[string]*panicView{}, time.Now()
		ramps := s.slowStartRamps(now)
		for _, b := range snap.Backends {
			v := viewBackendIn(snap, b, panics, now)
			v.SlowStart = viewSlowStart(ramps, b)
			body.Backends = append(body.Backends, v)
		}
	}
	writeJSON(w, http.StatusOK, body)
}

// oneBackend serves GET /api/v1/backends/{name}; the name may be
// percent-encoded (imap:%2F%2Fhost:993).
func (s *Server) oneBackend(w http.ResponseWriter, r *http.Request) {
	s.writeBackend(w, r.PathValue("name"))
}

func (s *Server) writeBackend(w http.ResponseWriter, name string) {
	if snap := s.snapshot(); snap != nil {
		for _, b := range snap.Backends {
			if b.ID == name || b.Target != nil && backendName(b.Target) == name {
				now := time.Now()
				v := viewBackendIn(snap, b, nil, now)
				v.SlowStart = viewSlowStart(s.slowStartRamps(now), b)
				writeJSON(w, http.StatusOK, v)
				return
			}
		}
	}
	writeError(w, http.StatusNotFound, "no backend named "+strconv.Quote(name))
}
