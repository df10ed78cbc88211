package main

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/backline/backline/internal/gateway"
)

// ctlTime is a time from the API; null, "" and the zero time all mean
// "never" or "no TTL", whichever way a daemon writes that.
type ctlTime struct{ time.Time }

func (t *ctlTime) UnmarshalJSON(b []byte) error {
	s := string(bytes.TrimSpace(b))
	if s == "null" || s == `""` {
		t.Time = time.Time{}
		return nil
	}
	return t.Time.UnmarshalJSON(b)
}

func (t *ctlTime) set() bool { return t != nil && !t.IsZero() }

func (t *ctlTime) String() string {
	if !t.set() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// ctlProblemRank orders backends for the table: out of rotation for a
// health reason first, then for an admin reason, then the other ineligible
// ones, then eligible ones with something unusual, then the rest.
func ctlProblemRank(b ctlBackend) int {
	eligible := b.Healthy
	if b.Eligible != nil {
		eligible = *b.Eligible
	}
	admin := "ready"
	if b.Admin != nil && b.Admin.State != "" {
		admin = b.Admin.State
	}
	switch {
	case !eligible && (b.Reason == "" || b.Reason == "unhealthy" || b.Reason == "stale" || strings.Contains(b.Reason, "down")):
		return 0
	case !eligible && (b.Reason == "drain" || b.Reason == "maint" || b.Reason == "agent_drain" || b.Reason == "agent_maint"):
		return 1
	case !eligible:
		return 2
	case !b.Healthy || admin != "ready" || (b.Admin != nil && b.Admin.Health != "" && b.Admin.Health != "auto"):
		return 3
	}
	return 4
}

func (c *ctlClient) printList(backends []ctlBackend) {
	if len(backends) == 0 {
		fmt.Fprintln(c.stdout, "no backends")
		return
	}
	sorted := slices.Clone(backends)
	slices.SortStableFunc(sorted, func(a, b ctlBackend) int {
		if d := ctlProblemRank(a) - ctlProblemRank(b); d != 0 {
			return d
		}
		if d := strings.Compare(a.Group, b.Group); d != 0 {
			return d
		}
		return strings.Compare(a.id(), b.id())
	})
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tGROUP\tPROTOCOL\tCHECK\tADDRESS\tHEALTH\tADMIN\tWEIGHT\tELIGIBLE")
	for _, b := range sorted {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			ctlCell(b.id()), ctlCell(b.Group), ctlCell(b.Protocol), ctlCheckKind(b), ctlCell(ctlHostPort(b.Host, b.Port)),
			ctlHealth(b), c.ctlListAdminCell(b), ctlWeight(b.Weight), ctlEligible(b.Eligible, b.Reason))
	}
	_ = tw.Flush()
	fmt.Fprintln(c.stdout, ctlRollup(backends))
}

// ctlCheckKind is what the checks do, for the CHECK column: the connect
// check in effect (greeting or tcp) and "+deep" with a deep check, "-"
// from a daemon that reports neither.
func ctlCheckKind(b ctlBackend) string {
	var parts []string
	if cc := strings.TrimSpace(b.ConnectCheck); cc != "" {
		parts = append(parts, ctlCell(cc))
	}
	if b.DeepCheck {
		parts = append(parts, "deep")
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, "+")
}

// ctlRollup is one line of per-group counts: "eligible per group: imap
// 34/36, ...".
func ctlRollup(backends []ctlBackend) string {
	type count struct{ ok, all int }
	counts := map[string]*count{}
	var groups []string
	what := "up" // a daemon without eligibility reports health only
	for _, b := range backends {
		if b.Eligible != nil {
			what = "eligible"
		}
		n := counts[b.Group]
		if n == nil {
			n = &count{}
			counts[b.Group] = n
			groups = append(groups, b.Group)
		}
		n.all++
		if (b.Eligible != nil && *b.Eligible) || (b.Eligible == nil && b.Healthy) {
			n.ok++
		}
	}
	slices.Sort(groups)
	parts := make([]string, 0, len(groups))
	for _, g := range groups {
		name := g
		if name == "" {
			name = "(no group)"
		}
		parts = append(parts, fmt.Sprintf("%s %d/%d", ctlClean(name), counts[g].ok, counts[g].all))
	}
	return fmt.Sprintf("%d backends; %s per group: %s", len(backends), what, strings.Join(parts, ", "))
}

// ctlCell keeps one table cell on one line and free of control bytes.
func ctlCell(s string) string {
	// Blanks only are no value either: an empty cell would shift the
	// columns after it for whoever reads them by field.
	s = ctlClean(strings.Join(strings.Fields(s), " "))
	if s == "" {
		return "-"
	}
	return s
}

func ctlHostPort(host string, port int) string {
	if host == "" {
		return ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return host + ":" + strconv.Itoa(port)
}

func ctlHealth(b ctlBackend) string {
	s := "down"
	if b.Healthy {
		s = "up"
	}
	if b.Admin != nil && (b.Admin.Health == "up" || b.Admin.Health == "down") {
		s = b.Admin.Health + " (forced)"
	}
	if b.Admin != nil && b.Admin.ChecksPaused {
		s += " paused"
	}
	return s
}

// ctlAdminCell is the admin state, "draining" for a drained backend that is
// otherwise eligible (under policy sticky it still serves the users stored
// for it), with its TTL.
//
// A drain its check asked for (drain_on_status) is not the admin state's:
// the cell keeps the admin state (and its TTL) and says "check drain".
func (c *ctlClient) ctlAdminCell(a *ctlAdmin, draining, checkDrain bool) string {
	if a == nil || a.State == "" {
		if checkDrain {
			return "check drain"
		}
		return "-"
	}
	s := ctlCell(a.State)
	if draining && (!checkDrain || a.State == "drain") {
		s = "draining"
	}
	if a.Until.set() {
		s += " " + ctlLeft(a.Until.Sub(c.now())) + " left"
	}
	if checkDrain && a.State != "drain" {
		s += ", check drain"
	}
	return s
}

func ctlWeight(w *int) string {
	if w == nil {
		return "-"
	}
	return strconv.Itoa(*w)
}

func ctlEligible(e *bool, reason string) string {
	switch {
	case e == nil:
		return "-"
	case *e:
		return "yes"
	case reason == "":
		return "no"
	}
	return "no (" + ctlCell(reason) + ")"
}

// ctlLeft prints a remaining time to the second, never negative.
func ctlLeft(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := d.Round(time.Second).String()
	// "30m" rather than Go's "30m0s", "1h" rather than "1h0m0s".
	if t, ok := strings.CutSuffix(s, "m0s"); ok {
		s = t + "m"
	}
	if t, ok := strings.CutSuffix(s, "h0m"); ok {
		s = t + "h"
	}
	return s
}

func ctlNumber(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// adminSummary is one line: "drain, weight 50, health auto, by ops: disk
// swap, until 2026-12-03T07:30:00Z (30m0s left), source api".
func (c *ctlClient) adminSummary(a ctlAdmin) string {
	parts := []string{ctlCell(a.State)}
	if a.Weight != nil {
		parts = append(parts, "weight "+strconv.Itoa(*a.Weight))
	}
	if a.Health != "" {
		parts = append(parts, "health "+ctlCell(a.Health))
	}
	if a.ChecksPaused {
		parts = append(parts, "checks paused")
	}
	if a.Who != "" || a.Why != "" {
		by := "by " + ctlCell(a.Who)
		if a.Why != "" {
			by += ": " + ctlClean(a.Why)
		}
		parts = append(parts, by)
	}
	if a.Until.set() {
		parts = append(parts, fmt.Sprintf("until %s (%s left)", a.Until, ctlLeft(a.Until.Sub(c.now()))))
	}
	if a.Source != "" {
		parts = append(parts, "source "+ctlCell(a.Source))
	}
	return c.redact(strings.Join(parts, ", "))
}

// drainingRow is the draining line of ctl show: an admin drain's with its
// since and who, a check drain's (reason check_drain) with its own start
// and status, which no admin change caused nor ends.
func (c *ctlClient) drainingRow(b ctlBackend) string {
	if b.Reason == "agent_drain" {
		return c.agentDrainingRow(b)
	}
	if b.Reason != "check_drain" {
		return c.drainingText(b.Group, b.Admin)
	}
	s := "yes"
	if b.CheckDrainSince.set() {
		s += " since " + b.CheckDrainSince.String()
	}
	if b.CheckDrainStatus != 0 {
		s += ": its check answers HTTP " + strconv.Itoa(b.CheckDrainStatus) + " (drain_on_status)"
	} else {
		s += ": its check answers a drain_on_status status"
	}
	if strings.HasPrefix(b.Group, gateway.GroupPrefix) {
		return c.redact(s + " (no new requests; back in rotation at its next expected status)")
	}
	return c.redact(s + " (no new users; under policy sticky, users stored for it stay until their affinity expires; back at its next expected status)")
}

// drainingText says what draining means for the backend's group and, when
// the admin state records them, since when and by whom.
func (c *ctlClient) drainingText(group string, a *ctlAdmin) string {
	s := "yes"
	if a != nil && a.Since.set() {
		s += " since " + a.Since.String()
	}
	if a != nil && a.Who != "" {
		s += " by " + ctlCell(a.Who)
	}
	if strings.HasPrefix(group, gateway.GroupPrefix) {
		// The gateway keeps no affinity: a drain ends its requests at once.
		return c.redact(s + " (no new requests; back in rotation at ready)")
	}
	return c.redact(s + " (no new users; under policy sticky, users stored for it stay until their affinity expires)")
}

// ctlBackupNote says when a backup takes traffic: mail targets fail over
// per protocol, gateway origins per backend (where use_when_unhealthy may
// admit an unhealthy primary first).
func ctlBackupNote(group string) string {
	if strings.HasPrefix(group, gateway.GroupPrefix) {
		return "yes (chosen only while no primary origin of its gateway backend is admitted)"
	}
	return "yes (chosen only while no primary of its protocol is eligible)"
}

func (c *ctlClient) printBackend(b ctlBackend) {
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
	row("id", ctlCell(b.id()))
	row("group", ctlCell(b.Group))
	row("protocol", ctlCell(b.Protocol))
	row("address", ctlCell(ctlHostPort(b.Host, b.Port)))
	if b.CheckedAddr != "" {
		// Where the last passed check went; nginx answers carry it.
		addr := ctlCell(b.CheckedAddr)
		if b.Admin != nil && b.Admin.ChecksPaused {
			// Not refreshed while paused: a DNS change shows only after.
			addr += " (checks paused: the last check's, not re-resolved)"
		}
		row("checked address", addr)
	}
	health := ctlHealth(b)
	if b.Since.set() {
		health += " since " + b.Since.String()
	}
	row("health", health)
	row("eligible", ctlEligible(b.Eligible, b.Reason))
	row("weight", ctlWeight(b.Weight))
	if b.Backup {
		row("backup", ctlBackupNote(b.Group))
	}
	if b.Draining {
		row("draining", c.drainingRow(b))
	}
	if b.Admin != nil {
		row("admin", c.adminSummary(*b.Admin))
		if b.Admin.Since.set() {
			row("admin since", b.Admin.Since.String())
		}
	} else {
		row("admin", "-")
	}
	if b.ConnectCheck != "" {
		// greeting or tcp: what the connect phase below did.
		row("connect_check", ctlCell(b.ConnectCheck))
	}
	if b.CheckInterval != nil {
		row("check interval", ctlIntervalText(*b.CheckInterval))
	}
	for _, p := range []struct {
		name  string
		phase ctlPhase
	}{{"connect check", b.Connect}, {"deep check", b.Deep}} {
		if p.name == "deep check" && !b.DeepCheck {
			continue
		}
		s := "failed"
		if p.phase.Healthy {
			s = "ok"
		}
		if p.phase.LastCheck.set() {
			s += fmt.Sprintf(" at %s in %s ms", p.phase.LastCheck, ctlNumber(p.phase.LatencyMS))
		}
		if p.phase.LastError != "" {
			s += ": " + ctlCell(p.phase.LastError)
		}
		row(p.name, c.redact(s))
	}
	if b.CertNotAfter.set() {
		row("certificate until", b.CertNotAfter.String())
	}
	if b.Uptime != nil {
		row("uptime", ctlUptimeText(b.Uptime))
	}
	c.printAgentRows(tw, b)
	_ = tw.Flush()
}

// ctlUptimeText is "1h 100%, 24h 99.93%, 7d 99.98% (2d3h checked)": each
// window's share of checked time the backend was healthy, with how much
// was checked when that is short of the window (a new backend, a daemon
// that was stopped).
func ctlUptimeText(u *ctlUptime) string {
	parts := make([]string, 0, 3)
	for _, w := range []struct {
		name   string
		length time.Duration
		w      ctlUptimeWindow
	}{{"1h", time.Hour, u.Hour}, {"24h", 24 * time.Hour, u.Day}, {"7d", 7 * 24 * time.Hour, u.Week}} {
		// Clamped first: a hostile answer's 1e300 must not overflow.
		checked := time.Duration(max(min(w.w.CheckedSeconds, w.length.Seconds()), 0) * float64(time.Second))
		switch r := w.w.Ratio; {
		case r == nil || checked <= 0:
			parts = append(parts, w.name+" -")
		case *r < 0 || *r > 1:
			parts = append(parts, w.name+" ?") // not a ratio: a daemon this ctl does not know
		default:
			// Floored to 0.01 %: 99.999 % is not shown as 100 %.
			text := w.name + " " + strconv.FormatFloat(math.Floor(*r*10000)/100, 'f', -1, 64) + "%"
			if checked < w.length*99/100 {
				text += " (" + ctlLeft(checked) + " checked)"
			}
			parts = append(parts, text)
		}
	}
	return strings.Join(parts, ", ")
}

func (c *ctlClient) printExplain(user string, ex ctlExplain) {
	if ex.Backend != nil {
		where := ctlCell(ctlHostPort(ex.Backend.Host, ex.Backend.Port))
		if ex.Backend.CheckedAddr != "" {
			// nginx gets this IP, not a fresh lookup of the host.
			where += ", checked " + ctlCell(ex.Backend.CheckedAddr)
		}
		fmt.Fprintf(c.stdout, "%s -> %s (%s), selected by %s\n", ctlClean(user), ctlCell(ex.Backend.ID),
			where, ctlCell(ex.SelectedBy))
	} else {
		fmt.Fprintf(c.stdout, "%s -> no backend\n", ctlClean(user))
	}
	panicText := "no"
	switch {
	case ex.Panic && ex.Status == "ok":
		panicText = "yes (too few backends eligible: use_all picked among all in service)"
	case ex.Panic:
		panicText = "yes (too few backends eligible: fail_closed tempfails)"
	}
	fmt.Fprintf(c.stdout, "status %s, snapshot round %d, panic %s\n", ctlCell(ex.Status), ex.SnapshotRound, panicText)
	if ex.Reason != "" {
		fmt.Fprintf(c.stdout, "reason: %s\n", c.redact(ctlCell(ex.Reason)))
	}
	for _, r := range ex.FilterResults {
		fmt.Fprintf(c.stdout, "filter: %s\n", c.redact(ctlCell(r)))
	}
	// A filter's writes do nothing in a dry run, so it may choose
	// differently than for a real login.
	for _, e := range ex.SuppressedEffects {
		fmt.Fprintf(c.stdout, "suppressed: %s\n", c.redact(ctlCell(e)))
	}
	if a := ex.Affinity; a != nil {
		stored, used := "none", "not used"
		if a.Stored != "" {
			stored = ctlCell(a.Stored)
		}
		if a.Used {
			used = "used"
		}
		fmt.Fprintf(c.stdout, "affinity: stored %s, %s", stored, used)
		if a.Reason != "" {
			fmt.Fprintf(c.stdout, " (%s)", ctlCell(a.Reason))
		}
		fmt.Fprintln(c.stdout)
	}
	if len(ex.Candidates) == 0 {
		fmt.Fprintln(c.stdout, "no candidates")
		return
	}
	sorted := slices.Clone(ex.Candidates)
	rank := func(x ctlCandidate) int {
		switch {
		case x.Chosen:
			return 0
		case x.Eligible:
			return 1
		}
		return 2
	}
	slices.SortStableFunc(sorted, func(a, b ctlCandidate) int { return rank(a) - rank(b) })
	fmt.Fprintln(c.stdout)
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CANDIDATE\tADDRESS\tWEIGHT\tCHOSEN\tELIGIBLE")
	for _, x := range sorted {
		chosen := "-"
		if x.Chosen {
			chosen = "yes"
		}
		eligible := x.Eligible
		id := ctlCell(x.ID)
		if x.Backup {
			id += " (backup)"
		}
		reason := x.Reason
		if x.Draining {
			reason = "draining"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", id, ctlCell(ctlHostPort(x.Host, x.Port)),
			ctlWeight(x.Weight), chosen, ctlEligible(&eligible, reason))
	}
	_ = tw.Flush()
}
