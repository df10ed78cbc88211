package gateway

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/probe"
	"github.com/backline/backline/internal/redact"
)

// HealthGroups returns one health group per definitions backend with
// beta_health, for the health engine. Each has one HTTP deep-check target
// built from the backend's origin and TLS settings; the hostname and proxy
// attributes are not used by the probe (as in Couper).
func (g *Gateway) HealthGroups() []health.Group {
	var groups []health.Group
	defs := &g.cfg.Definitions
	for _, label := range defs.SortedLabels() {
		b := defs.Backends[label]
		rt := g.backends[label]
		if b == nil || rt == nil {
			continue
		}
		if rt.origins != nil && (b.Health != nil || b.PassiveHealth != nil) {
			groups = append(groups, originsHealthGroup(label, b, rt))
			continue
		}
		if b.Health == nil {
			continue
		}
		t, ok := healthTarget(label, b.Origin, b, rt)
		id, idOK := originID(label, b.Origin)
		if !ok || !idOK {
			continue
		}
		h := b.Health
		groups = append(groups, health.Group{
			IDs:               []string{id},
			Name:              GroupPrefix + label,
			ConnectInterval:   h.Interval,
			DeepInterval:      h.Interval,
			FastInterval:      h.FastInterval,
			DownInterval:      h.DownInterval,
			FailureThreshold:  *h.FailureThreshold,
			RecoveryThreshold: *h.RecoveryThreshold,
			InitialHealthy:    initialHealthy(h),
			Targets:           []*probe.Target{t},
		})
	}
	return groups
}

// initialHealthy is beta_health's initial_state: traffic flows before the
// first verdict (Couper) unless it says unhealthy.
func initialHealthy(h *config.BackendHealth) bool {
	return h.InitialState != config.InitialUnhealthy
}

// BackendID is a gateway backend's ID in the registry, the admin API and
// metrics: gateway:<label>@<scheme>://<host>:<port>.
func BackendID(label, scheme, address string) string {
	return GroupPrefix + label + "@" + scheme + "://" + address
}

// admitted reports whether a request may go to the backend of a health
// group: its snapshot entry is eligible (health, admin state, weight: the
// one rule every consumer follows). With use_when_unhealthy the checks'
// verdict is ignored, but an operator's maint, drain, forced down or
// weight 0, the backend's own drain answer (check_drain) and what its
// agent said (health.Usable), still keep requests away. Without a source, or before the group shows up in it, the backend
// is admitted (Couper's initial state).
func (g *Gateway) admitted(group string, useWhenUnhealthy bool) bool {
	box := g.health.Load()
	if box == nil || box.src == nil {
		return true
	}
	snap := box.src.Snapshot()
	if snap == nil {
		return true
	}
	for i := range snap.Backends {
		b := &snap.Backends[i]
		if b.Group != group {
			continue
		}
		if !useWhenUnhealthy {
			return b.Eligible
		}
		// The same rule as panic mode's: an operator's or agent's weight 0
		// (an agent's "0%") keeps requests away too, as without
		// use_when_unhealthy.
		return health.Usable(b)
	}
	return true
}

// healthTarget is the probe of one origin: the origin's URL with beta_health's
// path, port and scheme put in where set. The host stays the origin's, so
// SNI and the Host header name it (headers.Host overrides the header); the
// backend's tls block is used whenever the probe speaks TLS, also when the
// traffic does not.
func healthTarget(name, rawOrigin string, b *config.Backend, rt *backendRuntime) (*probe.Target, bool) {
	u, err := url.Parse(rawOrigin)
	if err != nil || u.Hostname() == "" {
		return nil, false
	}
	h := b.Health
	scheme := u.Scheme
	if h.Scheme != "" {
		scheme = h.Scheme
	}
	https := scheme == "https"
	port := urlPort(u, https)
	if h.Port != 0 {
		port = h.Port
	}
	path := h.Path
	if path == "" {
		path = u.EscapedPath()
		if u.RawQuery != "" {
			path += "?" + u.RawQuery
		}
	}
	if path == "" {
		path = "/"
	}
	t := &probe.Target{
		Name:           name,
		Protocol:       config.ProtoHTTP,
		Host:           u.Hostname(),
		Port:           port,
		TLSMode:        probe.TLSPlain,
		ConnectTimeout: min(b.ConnectTimeout, h.Timeout),
		TLSTimeout:     h.Timeout,
		DeepTimeout:    h.Timeout,
		DeepCheck:      true,
		RequestURI:     path,
		HTTP: &probe.HTTPExpect{
			Path: path, Statuses: h.ExpectedStatus, Text: h.ExpectedText,
			Headers: h.Headers, HTTPS: https,
			Method: h.Method, Body: h.Body, DrainStatuses: h.DrainOnStatus,
		},
	}
	if t.ConnectTimeout <= 0 {
		t.ConnectTimeout = h.Timeout
	}
	if a := h.Agent; a != nil {
		// Host "" asks the agent next to each origin (the origin's host).
		t.Agent = &probe.AgentCheck{Host: a.Host, Port: a.Port, Interval: a.Interval, Timeout: a.Timeout, Send: a.Send}
	}
	// An origin that requires the PROXY header refuses a connection
	// without one; a check sends the form for the proxy's own connections
	// (v2 LOCAL, v1 UNKNOWN): the origin takes the socket addresses.
	switch rt.transports.proxyProtocol {
	case 1:
		t.HAProxyV1 = true
	case 2:
		t.HAProxyV2 = true
	}
	if https {
		t.TLSMode = probe.TLSImplicit
		tc := rt.transports.tlsBase.Clone()
		if net.ParseIP(t.Host) == nil || tc.ServerName == "" {
			tc.ServerName = t.Host
		}
		t.TLSConfig = tc
	}
	return t, true
}

// urlPort is u's port; an implied one is the default of the scheme the
// probe speaks, so when only the scheme changes, a port written in the
// origin is kept and an implied one follows, as in the written-out URL.
func urlPort(u *url.URL, https bool) int {
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err == nil {
			return n
		}
	}
	if https {
		return 443
	}
	return 80
}

// originID is the registry ID of a single-origin backend: the traffic's
// scheme and address, never the probe's, so a changed health port or
// scheme keeps the backend's state, admin state and metrics series.
func originID(label, rawOrigin string) (string, bool) {
	u, err := url.Parse(rawOrigin)
	if err != nil || u.Hostname() == "" {
		return "", false
	}
	scheme := "http"
	if u.Scheme == "https" {
		scheme = "https"
	}
	t := probe.Target{Host: u.Hostname(), Port: urlPort(u, scheme == "https")}
	return BackendID(label, scheme, t.Address()), true
}

// HealthURL is where a probe target is checked, for check output and
// logs: scheme://host:port/path.
func HealthURL(t *probe.Target) string {
	return healthOrigin(t) + t.RequestURI
}

// shownHealthURL is HealthURL with the path's query credentials withheld,
// the whole of each value even past a raw space (redact.RequestURI).
func shownHealthURL(t *probe.Target) string {
	return healthOrigin(t) + redact.RequestURI(t.RequestURI)
}

func healthOrigin(t *probe.Target) string {
	scheme := "http"
	if t.TLSMode == probe.TLSImplicit {
		scheme = "https"
	}
	return scheme + "://" + t.Address()
}

// MovedHealthChecks lists, for backline check, every origin whose probe
// goes elsewhere than its traffic (beta_health port or scheme), as
// "<key path>: <backend ID> is probed at <URL>", so an operator sees the
// effective target before the daemon runs it.
func (g *Gateway) MovedHealthChecks() []string {
	var out []string
	for _, grp := range g.HealthGroups() {
		label := strings.TrimPrefix(grp.Name, GroupPrefix)
		b := g.cfg.Definitions.Backends[label]
		if b == nil || b.Health == nil || (b.Health.Port == 0 && b.Health.Scheme == "") {
			continue
		}
		for i, t := range grp.Targets {
			out = append(out, fmt.Sprintf("definitions.backends.%s.beta_health: %s is probed at %s", label, grp.IDs[i], shownHealthURL(t)))
		}
	}
	return out
}
