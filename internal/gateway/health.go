package gateway

import (
	"net"
	"net/url"
	"strconv"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/probe"
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
		if !ok {
			continue
		}
		h := b.Health
		scheme := "http"
		if t.TLSMode == probe.TLSImplicit {
			scheme = "https"
		}
		groups = append(groups, health.Group{
			IDs:               []string{BackendID(label, scheme, t.Address())},
			Name:              GroupPrefix + label,
			ConnectInterval:   h.Interval,
			DeepInterval:      h.Interval,
			FailureThreshold:  *h.FailureThreshold,
			RecoveryThreshold: *h.RecoveryThreshold,
			InitialHealthy:    true, // traffic flows before the first verdict, as in Couper
			Targets:           []*probe.Target{t},
		})
	}
	return groups
}

// BackendID is a gateway backend's ID in the registry, the admin API and
// metrics: gateway:<label>@<scheme>://<host>:<port>.
func BackendID(label, scheme, address string) string {
	return GroupPrefix + label + "@" + scheme + "://" + address
}

// admitted reports whether a request may go to the backend of a health
// group: its snapshot entry is eligible (health, admin state, weight: the
// one rule every consumer follows). With use_when_unhealthy the checks'
// verdict is ignored, but an operator's maint, drain or forced down still
// keeps requests away. Without a source, or before the group shows up in
// it, the backend is admitted (Couper's initial state).
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
		switch b.Reason {
		case health.ReasonMaint, health.ReasonDrain, health.ReasonForcedDown:
			return false
		}
		return true
	}
	return true
}

func healthTarget(label, rawOrigin string, b *config.Backend, rt *backendRuntime) (*probe.Target, bool) {
	u, err := url.Parse(rawOrigin)
	if err != nil || u.Hostname() == "" {
		return nil, false
	}
	https := u.Scheme == "https"
	port := 80
	if https {
		port = 443
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err == nil {
			port = n
		}
	}
	h := b.Health
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
		Name:           label,
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
		},
	}
	if t.ConnectTimeout <= 0 {
		t.ConnectTimeout = h.Timeout
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
