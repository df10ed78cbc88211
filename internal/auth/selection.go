package auth

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
)

// Selection is the backend decision of one request, settled from one
// pinned health snapshot before any answer is formatted. The nginx, header
// and json responders only format it; explain returns it as it is.
type Selection struct {
	// Status is selOK, selTempfail or selNoBackend.
	Status string
	// Backend is nil unless Status is selOK.
	Backend *ChosenBackend
	// SelectedBy is "filter:<script>" or "policy:<name>".
	SelectedBy string
	// Panic is set when fewer than auth.nginx.panic.below_percent of the
	// protocol's backends were eligible.
	Panic bool
	// Round is the snapshot's round.
	Round uint64
	// Candidates are the protocol's mail backends in configuration order,
	// each with why it could or could not be chosen.
	Candidates []Candidate
	// reason explains a tempfail, a filter choice the policy overrode, or
	// why a backup was chosen; for logs and explain, never a credential.
	// Read it with Reason(), which adds the backup explanation.
	reason string
	// whyBackup: the policy chose a backup, and Reason() explains why
	// from Candidates. The explanation names every primary of the
	// protocol; during a failover every login would build it, and only
	// explain and a tempfail's log line read a reason, so it is built when
	// read. Candidates never change after settle but for Chosen.
	whyBackup bool
	// Backup: the policy chose a backup target (no primary was eligible).
	Backup bool
	// Unmanaged: no mail backend of the protocol is configured and no filter
	// selected one. nginx needs a backend (tempfail); header and json answer
	// without one, as they did before backends were selected for them.
	Unmanaged bool
	// Affinity is what the sticky policy did with the user's affinity;
	// nil under other policies.
	Affinity *AffinityInfo

	chosen ChosenBackend
	aff    AffinityInfo // Affinity points here // Backend points here: one allocation less per request
}

func (s *Selection) choose(b ChosenBackend) {
	s.chosen = b
	s.Backend = &s.chosen
}

// Selection statuses (explain's "status").
const (
	selOK        = "ok"
	selTempfail  = "tempfail"
	selNoBackend = "no_backend"
)

// ChosenBackend is where the request goes. ID is empty when a filter chose
// a host that is not a configured target.
type ChosenBackend struct {
	ID       string `json:"id"`
	Host     string `json:"host"`
	Port     int    `json:"port"`
	Protocol string `json:"protocol,omitempty"`
	// Addr is the IP the target's last passed connect phase reached, from
	// the pinned snapshot; zero for a host no configured target has, or
	// before the first check. nginx gets it instead of a fresh lookup.
	Addr netip.Addr `json:"checked_addr,omitzero"`
}

// Candidate is one backend's part in a selection.
type Candidate struct {
	ID       string `json:"id"`
	Host     string `json:"host"`
	Port     int    `json:"port"`
	Eligible bool   `json:"eligible"`
	Reason   string `json:"reason"`
	Weight   int    `json:"weight"`
	// Backup: a failover target, in the pool only when no primary is.
	Backup bool `json:"backup"`
	Chosen bool `json:"chosen"`
	// panicUsable: not eligible, but use_all may take it (unhealthy or
	// stale only; never drained, maintained or weight 0).
	panicUsable bool
	// addr: the snapshot's checked address (ChosenBackend.Addr).
	addr netip.Addr
	// Draining: drained but otherwise eligible (health.Backend.Draining)
	// and reachable by proxies: the sticky policy keeps its stored users.
	Draining bool `json:"draining"`
}

// reasonNoProxyPort marks a healthy implicit-TLS target without proxy_port:
// the proxies behind backline speak plain text to their upstream.
const reasonNoProxyPort = "implicit_tls_without_proxy_port"

// selectInput is what a selection depends on besides the configuration.
type selectInput struct {
	snap     *health.Snapshot
	user     string
	protocol string
	// filterHost/Port/Name: the filters' select_backend_server, if any.
	filterHost string
	filterPort int
	filterName string
	// dry: explain; no round-robin advance, no counters, no logs.
	dry bool
	// session names the request in the log line of an overridden filter.
	session string
}

// settle computes the selection. It reads nothing but its input, the
// configuration and the policy's state (which a dry run leaves alone), so
// explain and a real request agree.
func (h *Handler) settle(in selectInput) *Selection {
	proto := targetProtocol(in.protocol)
	sel := &Selection{}
	if in.snap != nil {
		sel.Round = in.snap.Round
		sel.Candidates = h.candidates(in.snap, proto)
	}

	if in.filterHost != "" && in.filterPort > 0 {
		if settled, store := h.filterChoice(in, proto, sel); settled {
			if sp, ok := h.policy.(*stickyPolicy); ok && store && sel.Status == selOK && sel.Backend.ID != "" {
				sp.storeFilterChoice(in, proto, sel.Backend.ID, sel)
			}
			return sel
		}
	}
	h.policyChoice(in, proto, sel)
	return sel
}

// candidates lists the protocol's mail backends with the port proxies get.
func (h *Handler) candidates(snap *health.Snapshot, proto string) []Candidate {
	n := 0
	for i := range snap.Backends {
		if b := &snap.Backends[i]; b.Group == health.GroupMail && b.Target != nil && b.Target.Protocol == proto {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	out := make([]Candidate, 0, n)
	for i := range snap.Backends {
		b := &snap.Backends[i]
		if b.Group != health.GroupMail || b.Target == nil || b.Target.Protocol != proto {
			continue
		}
		c := Candidate{ID: backendID(b), Host: b.Target.Host, Weight: b.Weight, Eligible: b.Eligible, Reason: string(b.Reason), Backup: b.Backup, addr: b.Addr}
		c.Port = h.nginxPorts.backendPort(b)
		switch {
		case c.Port == 0:
			c.Port = b.Target.Port
			if c.Eligible {
				c.Eligible, c.Reason = false, reasonNoProxyPort
			}
		case !c.Eligible:
			c.panicUsable = (b.Reason == health.ReasonUnhealthy || b.Reason == health.ReasonStale) && b.Weight > 0
			c.Draining = b.Draining
		}
		out = append(out, c)
	}
	return out
}

func backendID(b *health.Backend) string {
	if b.ID != "" {
		return b.ID
	}
	return b.Target.Name
}

// filterChoice applies a filter's select_backend_server and reports
// whether it settled the selection and whether the sticky policy is to
// store it. A choice of a configured target that is not eligible (drained,
// in maintenance, unhealthy) is overridden by the policy: an operator's
// drain must hold against routing scripts too. The one exception is the
// sticky policy's own: a drained, otherwise eligible backend that is the
// user's stored backend, which the policy would keep as well (not stored
// again, so the drain still ends with the affinity).
func (h *Handler) filterChoice(in selectInput, proto string, sel *Selection) (settled, store bool) {
	by := "filter:" + in.filterName
	if in.filterName == "" {
		by = "filter"
	}
	b := h.findTarget(in.snap, in.filterHost, in.filterPort)
	if b == nil {
		// Not a configured target: taken as it is (the script owns it).
		sel.Status, sel.SelectedBy = selOK, by
		sel.choose(ChosenBackend{Host: in.filterHost, Port: in.filterPort})
		return true, true
	}
	id := backendID(b)
	keptDrained := false
	if !b.Eligible {
		sp, sticky := h.policy.(*stickyPolicy)
		keptDrained = sticky && b.Draining && h.nginxPorts.backendPort(b) != 0 && sp.filterMayDrain(in, proto, id, sel)
	}
	if !b.Eligible && !keptDrained {
		sel.reason = fmt.Sprintf("%s selected %s, which is not eligible (%s); the policy decided", by, id, b.Reason)
		if !in.dry {
			h.log.LogAttrs(context.Background(), slog.LevelInfo, "filter selection overridden",
				slog.String("session", in.session), slog.String("selected_by", by),
				slog.String("backend", id), slog.String("reason", string(b.Reason)))
		}
		return false, false
	}
	port := h.nginxPorts.backendPort(b)
	if port == 0 {
		sel.Status, sel.SelectedBy = selTempfail, by
		sel.reason = fmt.Sprintf("filter selected %s (%s), which uses implicit TLS and has no proxy_port; nginx cannot speak to it",
			b.Target.Name, joinHostPort(in.filterHost, in.filterPort))
		return true, false
	}
	sel.Status, sel.SelectedBy = selOK, by
	sel.choose(ChosenBackend{ID: id, Host: b.Target.Host, Port: port, Protocol: b.Target.Protocol, Addr: b.Addr})
	markChosen(sel, id)
	if b.Backup {
		// Scripts own their choice, backups included (an eligible backup
		// is no drain to enforce); the explanation still names it.
		sel.Backup = true
		sel.addReason(fmt.Sprintf("%s chose backup %s", by, id))
	}
	return true, !keptDrained
}

// findTarget is the mail target a filter named by host and checked port,
// or else by host and proxy_port (so a script that hands out the proxy
// port does not route around a drain).
func (h *Handler) findTarget(snap *health.Snapshot, host string, port int) *health.Backend {
	if snap == nil {
		return nil
	}
	var byProxyPort *health.Backend
	want := parseHost(host)
	for i := range snap.Backends {
		b := &snap.Backends[i]
		if b.Group != health.GroupMail || b.Target == nil || !want.same(b.Target.Host) {
			continue
		}
		if b.Target.Port == port {
			return b
		}
		if byProxyPort == nil && h.nginxPorts.proxyPort[b.Target.Name] == port {
			byProxyPort = b
		}
	}
	return byProxyPort
}

// hostKey is a filter's host in the form targets are compared with: one
// backend has many spellings (::1 and 0:0:0:0:0:0:0:1, ::ffff:10.0.0.3
// and 10.0.0.3, host names in any case, with or without the root dot),
// and a script must not route around a drain by writing another one.
type hostKey struct {
	raw  string
	ip   netip.Addr // valid when raw is an IP address
	name string     // else: raw without the root dot
}

func parseHost(host string) hostKey {
	k := hostKey{raw: host}
	if ip, err := netip.ParseAddr(host); err == nil {
		k.ip = ip.WithZone("").Unmap()
	} else {
		k.name = strings.TrimSuffix(host, ".")
	}
	return k
}

// same reports whether host names the same backend host as k.
func (k hostKey) same(host string) bool {
	if host == k.raw {
		return true
	}
	if k.ip.IsValid() {
		ip, err := netip.ParseAddr(host)
		return err == nil && ip.WithZone("").Unmap() == k.ip
	}
	return strings.EqualFold(strings.TrimSuffix(host, "."), k.name)
}

func markChosen(sel *Selection, id string) {
	for i := range sel.Candidates {
		if sel.Candidates[i].ID == id {
			sel.Candidates[i].Chosen = true
			return
		}
	}
}

// policyChoice runs the default policy over the eligible candidates, or,
// in a panic, fails closed or widens the pool. Backups (backup: true) are
// a second tier: the policy sees them only when no primary is eligible.
func (h *Handler) policyChoice(in selectInput, proto string, sel *Selection) {
	sel.SelectedBy = h.policyLabel
	cands := sel.Candidates
	var poolBuf [16]int
	pool := poolBuf[:0]
	var skipped []string
	// inService is the panic threshold's base: the backends meant to take
	// logins. Those the operator took out (drain, maint, weight 0) or that
	// proxies cannot reach by configuration are a capacity decision, not
	// a health failure: draining 3 of 4 for maintenance must send logins
	// to the fourth, not tempfail them all. Index 0 counts primaries, 1
	// backups.
	var inService, eligible [2]int
	for i := range cands {
		tier := tierOf(&cands[i])
		switch {
		case cands[i].Eligible:
			eligible[tier]++
		case cands[i].Reason == reasonNoProxyPort:
			skipped = append(skipped, cands[i].ID)
			continue
		case operatorRemoved(cands[i].Reason) || cands[i].Weight <= 0:
			continue
		}
		inService[tier]++
	}
	// The tier that serves: primaries while one is eligible, else backups.
	backupTier := eligible[0] == 0 && eligible[1] > 0
	for i := range cands {
		if cands[i].Eligible && cands[i].Backup == backupTier {
			pool = append(pool, i)
		}
	}
	if below := h.cfg.Panic.EffectiveBelowPercent(); inService[0]+inService[1] > 0 && healthPercent(eligible, inService) < float64(below) {
		sel.Panic = true
		if !in.dry {
			h.metrics.panic.Inc()
		}
		if h.cfg.Panic.EffectiveMode() == config.PanicUseAll {
			pool = widenPool(cands, pool[:0], backupTier)
		} else if len(pool) > 0 {
			sel.Status = selTempfail
			sel.reason = panicReason(proto, eligible, inService, below)
			return
		}
	}
	if len(pool) == 0 {
		// Nothing eligible, but a drain keeps its users (not in a
		// fail_closed panic, which refuses every login).
		if sp, ok := h.policy.(*stickyPolicy); ok && !(sel.Panic && h.cfg.Panic.EffectiveMode() != config.PanicUseAll) {
			if i := sp.keepDrainedOnly(in, proto, cands, sel); i >= 0 {
				take(sel, cands, i, proto)
				return
			}
		}
		sel.Status, sel.Unmanaged = selNoBackend, len(cands) == 0
		sel.reason = "no healthy backend for protocol " + strconv.Quote(in.protocol)
		if len(skipped) > 0 {
			sel.reason = noUsableBackend(in.protocol, "skipped "+strings.Join(skipped, ", ")+": implicit TLS without proxy_port")
		}
		return
	}
	var i int
	if sp, ok := h.policy.(*stickyPolicy); ok {
		i = sp.choose(in, proto, cands, pool, sel)
	} else {
		i = h.policy.pick(in.user, cands, pool, in.dry)
	}
	take(sel, cands, i, proto)
}

// take settles sel on candidate i.
func take(sel *Selection, cands []Candidate, i int, proto string) {
	c := &cands[i]
	c.Chosen = true
	sel.Status = selOK
	sel.choose(ChosenBackend{ID: c.ID, Host: c.Host, Port: c.Port, Protocol: proto, Addr: c.addr})
	if c.Backup {
		sel.Backup, sel.whyBackup = true, true
	}
}

func tierOf(c *Candidate) int {
	if c.Backup {
		return 1
	}
	return 0
}

// healthPercent is the protocol's health for the panic threshold: the
// eligible share of the primaries in service plus that of the backups,
// at most 100 (Envoy's normalized total health across priority levels
// without its overprovisioning factor). A fully eligible backup tier thus
// keeps selection out of panic when the primaries fail; without backups it
// is the eligible share of all backends, as before backups existed.
func healthPercent(eligible, inService [2]int) float64 {
	pct := 0.0
	for t := range inService {
		if inService[t] > 0 {
			pct += float64(eligible[t]) * 100 / float64(inService[t])
		}
	}
	return min(pct, 100)
}

// widenPool is a use_all panic's pool: the serving tier's eligible and
// panic-usable candidates; when nothing is eligible at all, the usable
// primaries, else the usable backups.
func widenPool(cands []Candidate, pool []int, backupTier bool) []int {
	for _, tier := range []bool{backupTier, true} {
		for i := range cands {
			if cands[i].Backup == tier && (cands[i].Eligible || cands[i].panicUsable) {
				pool = append(pool, i)
			}
		}
		if len(pool) > 0 || tier {
			break
		}
	}
	return pool
}

func panicReason(proto string, eligible, inService [2]int, below int) string {
	if inService[1] == 0 {
		return fmt.Sprintf("panic: %d of %d %s backends eligible, below %d %%; fail_closed",
			eligible[0], inService[0], strconv.Quote(proto), below)
	}
	return fmt.Sprintf("panic: %d of %d primary and %d of %d backup %s backends eligible, below %d %% together; fail_closed",
		eligible[0], inService[0], eligible[1], inService[1], strconv.Quote(proto), below)
}

// backupReason says why a backup was chosen: every primary of the
// protocol, each with why it was passed over, or that there is none.
func backupReason(id, proto string, cands []Candidate) string {
	var b strings.Builder
	for i := range cands {
		if c := &cands[i]; !c.Backup {
			if b.Len() > 0 {
				b.WriteString(", ")
			}
			b.WriteString(c.ID + ": " + c.Reason)
		}
	}
	if b.Len() == 0 {
		return fmt.Sprintf("backup %s chosen: every %s backend is a backup", id, strconv.Quote(proto))
	}
	return fmt.Sprintf("backup %s chosen: no primary %s backend is eligible (%s)", id, strconv.Quote(proto), b.String())
}

// addReason appends to the selection's reason (a filter choice the policy
// overrode may already be there).
func (s *Selection) addReason(r string) {
	if s.reason != "" {
		s.reason += "; "
	}
	s.reason += r
}

// Reason explains a tempfail, a filter choice the policy overrode, or why
// a backup was chosen; empty when there is nothing to explain.
func (s *Selection) Reason() string {
	if !s.whyBackup || s.Backend == nil {
		return s.reason
	}
	why := backupReason(s.Backend.ID, s.Backend.Protocol, s.Candidates)
	if s.reason == "" {
		return why
	}
	return s.reason + "; " + why
}

// operatorRemoved: the backend is out of rotation by an operator's
// choice (admin state or weight, or the drain answer its http check
// gives: check_drain, or its agent's drain or maint), not by its health.
func operatorRemoved(reason string) bool {
	switch health.Reason(reason) {
	case health.ReasonDrain, health.ReasonMaint, health.ReasonWeightZero, health.ReasonCheckDrain,
		health.ReasonAgentDrain, health.ReasonAgentMaint:
		return true
	}
	return false
}

// snapshot is the current health snapshot, nil without health checks.
func (h *Handler) snapshot() *health.Snapshot {
	if h.health == nil {
		return nil
	}
	return h.health.Snapshot()
}

// settleRequest settles the selection of a successful request from its
// pinned snapshot and turns a failed one into a tempfail. nginx always
// needs a backend; header and json answer without one when the protocol
// has no configured backend and no filter chose one.
func (h *Handler) settleRequest(endpoint string, req *Request, d *decision, session string) {
	in := selectInput{snap: req.snap, user: req.Username, protocol: req.Protocol, session: session}
	if d.filter != nil {
		in.filterHost, in.filterPort, in.filterName = d.selectedHost, d.selectedPort, d.filter.SelectedBy
	}
	sel := h.settle(in)
	d.sel = sel
	if sel.Status == selOK || (endpoint != "nginx" && sel.Unmanaged) {
		return
	}
	d.outcome, d.reason = outcomeTempfail, sel.Reason()
	d.noBackend = sel.Status == selNoBackend || sel.Panic
}

// Attribute names under which header and json answers carry the selected
// backend (X-Nauthilus-Proxy-Host / -Proxy-Port as headers), the names a
// Dovecot Lua passdb reads to proxy the login.
const (
	attrProxyHost = "Proxy-Host"
	attrProxyPort = "Proxy-Port"
)

// addBackendAttributes puts the settled backend into the attributes of a
// header or json answer, unless the password database or a filter already
// set one of those names (in any case): theirs win, as Lua attributes do.
func addBackendAttributes(d *decision) {
	if d.sel == nil || d.sel.Backend == nil {
		return
	}
	for name := range d.attributes {
		if strings.EqualFold(name, attrProxyHost) || strings.EqualFold(name, attrProxyPort) {
			return
		}
	}
	if d.attributes == nil {
		d.attributes = Attributes{}
	}
	b := d.sel.Backend
	d.attributes[attrProxyHost] = []any{b.Host}
	d.attributes[attrProxyPort] = []any{strconv.Itoa(b.Port)}
	d.server, d.port = b.Host, b.Port
}
