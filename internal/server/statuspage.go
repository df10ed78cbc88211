package server

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/backline/backline/internal/health"
)

// statusRefresh is how often the page reloads itself (seconds): a meta
// refresh without JavaScript, a timer that keeps the filter with it.
const statusRefresh = 5

// maxQuery bounds the ?q= filter.
const maxQuery = 200

// statusData is everything the template shows, precomputed as strings so
// that rendering 1,000 rows is one pass of simple field lookups.
type statusData struct {
	Refresh  int
	Version  string
	Round    uint64
	Taken    string
	Now      string
	Query    string
	Healthy  int
	Total    int
	Problems int
	Shown    int
	Rollups  []rollup
	Rows     []statusRow
	RowsHTML template.HTML // Rows, rendered by writeRows

	CSS, NoScriptCSS template.CSS
	Script           template.JS
}

type rollup struct {
	Name                string
	Up, Eligible, Total int
	Panic               bool   // a gateway backend of the group is in panic mode
	Class               string // "ok", "warn" (some down), "crit" (none eligible)
}

// statusRow is one backend as the page shows it.
type statusRow struct {
	ID         string
	Group      string
	GroupShown string // "mail" for the mail targets' long group name
	Protocol   string
	Detail     string // tls mode, proxy-v1/v2, deep check mechanism, backup
	Addr       string // host:port
	State      string // up, down, stale, draining, drain, maint, or another eligibility reason
	Problem    bool
	InState    string
	Admin      pageAdmin
	AdminText  string // "drain by alice: disk swap"
	AdminSet   bool   // anything but ready as configured
	Until      string // "until 07:30 UTC (in 25m)"
	Check      string // last check's class: ok, connect, tls, timeout, protocol, auth
	Reason     string // the probe's finer reason when it differs from the class
	CheckAgo   string
	Error      string
	Latency    string
	Spark      template.HTML
	Up1h       string
	Up24h      string
	Up7d       string
	Cert       string
	CertClass  string
	Key        string // lower-case text the filter matches
	rank       int
}

func (s *Server) statusPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query().Get("q")
	if len(q) > maxQuery {
		q = q[:maxQuery]
	}
	q = strings.ToValidUTF8(q, "")
	var buf bytes.Buffer
	start := time.Now()
	if err := renderStatus(&buf, s.snapshot(), s.slowStartRamps(start), s.opts.Version, q, start); err != nil {
		s.log.Error("status page rendering failed", "error", err)
		http.Error(w, "status page rendering failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", statusCSP)
	w.Header().Set("X-Frame-Options", "SAMEORIGIN")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	// The server's share of the page load, visible in a browser's
	// developer tools (the budget is 200 ms at 1,000 backends).
	w.Header().Set("Server-Timing", "render;dur="+
		strconv.FormatFloat(float64(time.Since(start).Microseconds())/1000, 'f', 1, 64))
	_, _ = w.Write(buf.Bytes())
}

// renderStatus writes the page for one snapshot (nil before the engine
// exists) and the gateway's slow start ramps (nil without) as seen at
// now, filtered by q.
func renderStatus(buf *bytes.Buffer, snap *health.Snapshot, ramps map[string]health.SlowStartRamp, version, q string, now time.Time) error {
	data := buildStatus(snap, ramps, version, q, now)
	data.RowsHTML = writeRows(data.Rows)
	buf.Grow(4096 + len(data.RowsHTML))
	return statusTemplate.Execute(buf, data)
}

func buildStatus(snap *health.Snapshot, ramps map[string]health.SlowStartRamp, version, q string, now time.Time) statusData {
	data := statusData{Refresh: statusRefresh, Version: version, Query: q,
		CSS: statusCSSValue, NoScriptCSS: statusNoScriptCSSValue, Script: statusScriptValue,
		Now: now.UTC().Format("2006-01-02 15:04:05 UTC")}
	if snap == nil {
		return data
	}
	data.Round = snap.Round
	if !snap.Taken.IsZero() {
		data.Taken = ago(snap.Taken, now)
	}
	needle := strings.ToLower(strings.TrimSpace(q))
	rollups := map[string]int{}
	panics := groupPanics{snap: snap}
	data.Rows = make([]statusRow, 0, len(snap.Backends))
	for _, b := range snap.Backends {
		if b.Target == nil {
			continue
		}
		row := buildRow(b, adminOf(b), now)
		panicNote := panics.note(b, now)
		row.addDetail(panicNote)
		row.addDetail(slowStartText(ramps, b, now))
		row.addDetail(intervalDetail(b.Schedule))
		data.Total++
		if b.Healthy {
			data.Healthy++
		}
		if row.Problem {
			data.Problems++
		}
		data.Rollups = countRollup(data.Rollups, rollups, b)
		if panicNote != "" {
			data.Rollups[rollups[rollupName(b)]].Panic = true
		}
		if needle != "" && !strings.Contains(row.Key, needle) {
			continue
		}
		data.Rows = append(data.Rows, row)
	}
	data.Shown = len(data.Rows)
	// Problems first, the worst kind first; configuration order within a
	// kind (the sort is stable).
	slices.SortStableFunc(data.Rows, func(a, b statusRow) int { return a.rank - b.rank })
	for i := range data.Rollups {
		ru := &data.Rollups[i]
		switch {
		case ru.Eligible == 0:
			ru.Class = "crit"
		case ru.Up < ru.Total || ru.Eligible < ru.Total:
			ru.Class = "warn"
		default:
			ru.Class = "ok"
		}
	}
	return data
}

// rollupName groups mail targets by protocol ("imap") and gateway backends
// by their gateway group.
func rollupName(b health.Backend) string {
	if b.Group == health.GroupMail {
		return b.Target.Protocol
	}
	return b.Group
}

func countRollup(list []rollup, index map[string]int, b health.Backend) []rollup {
	name := rollupName(b)
	i, ok := index[name]
	if !ok {
		i = len(list)
		index[name] = i
		list = append(list, rollup{Name: name})
	}
	list[i].Total++
	if b.Healthy {
		list[i].Up++
	}
	if b.Eligible {
		list[i].Eligible++
	}
	return list
}

// Problem ranks: lower sorts first.
const (
	rankDown = iota
	rankStale
	rankMaint
	rankDrain
	rankIneligible
	rankOK
)

func buildRow(b health.Backend, adm pageAdmin, now time.Time) statusRow {
	t := b.Target
	row := statusRow{
		ID:         b.ID,
		Group:      b.Group,
		GroupShown: b.Group,
		Protocol:   t.Protocol,
		Addr:       hostPort(t.Host, t.Port),
		Admin:      adm,
	}
	if b.Group == health.GroupMail {
		row.GroupShown = "mail"
	}
	if row.ID == "" {
		row.ID = t.Name
	}
	detail := []string{string(t.TLSMode)}
	switch {
	case t.HAProxyV2:
		detail = append(detail, "proxy-v2")
	case t.HAProxyV1:
		detail = append(detail, "proxy-v1")
	}
	if t.ClientCertSubject != "" {
		detail = append(detail, "client-cert")
	}
	if cc := connectCheckDetail(t); cc != "" {
		detail = append(detail, cc)
	}
	if t.DeepCheck {
		detail = append(detail, "deep")
		if b.Mechanism != "" {
			detail = append(detail, b.Mechanism)
		}
	}
	if b.Backup {
		// Failover target: an operator reading "up" needs to know it
		// takes no traffic while a primary is eligible.
		detail = append(detail, "backup")
	}
	row.Detail = strings.Join(detail, " ")

	row.State, row.rank = stateOf(b)
	row.Problem = row.rank != rankOK
	if b.Reason == health.ReasonPassive && b.EjectedUntil.After(now) {
		// Passive health: the ejection's end is what an operator asks.
		row.Detail += fmt.Sprintf(" ejected for %s (ejection %d)", shortDuration(b.EjectedUntil.Sub(now)), b.Ejections)
	}
	if b.Reason == health.ReasonCheckDrain {
		// Not an operator's drain: say where it comes from.
		row.addDetail(fmt.Sprintf("check drain (HTTP %d)", b.CheckDrainStatus))
	}
	row.addDetail(agentDetail(b.Agent))
	last := lastCheck(b, t.DeepCheck)
	since := b.Since
	switch {
	case b.Reason == health.ReasonCheckDrain && !b.CheckDrainSince.IsZero():
		// Not the admin state's since: an operator's change did not start it.
		since = b.CheckDrainSince
	case isAgentReason(b.Reason) && !b.Agent.Since.IsZero():
		since = b.Agent.Since // the agent's word, not an operator's change
	case (row.State == "draining" || row.State == "drain" || row.State == "maint") && !adm.Since.IsZero():
		since = adm.Since
	case row.State == "stale" && !last.LastCheck.IsZero():
		since = last.LastCheck // stale since the last result came in
	}
	row.InState = shortDuration(now.Sub(since))
	row.AdminText, row.Until = adminText(adm, now)
	row.AdminSet = adm.State != string(health.AdminReady) || adm.Extra != "" || adm.Who != ""

	row.Check = checkClass(last.LastReason)
	if last.LastCheck.IsZero() {
		row.Check = "pending"
	}
	if string(last.LastReason) != row.Check {
		row.Reason = string(last.LastReason)
	}
	row.CheckAgo = ago(last.LastCheck, now)
	row.Error = cleanError(last.LastError)
	if t.DeepCheck {
		row.Latency = latencyText(b.Deep.Latency)
	} else {
		row.Latency = latencyText(b.Connect.Latency)
	}
	row.Spark = sparkline(b.History, now)
	row.Up1h, row.Up24h, row.Up7d = uptimeText(b.Uptime.Hour), uptimeText(b.Uptime.Day), uptimeText(b.Uptime.Week)
	row.Cert, row.CertClass = certText(b.CertNotAfter, now)
	row.Key = strings.ToLower(strings.Join([]string{row.ID, row.Group, row.Protocol, row.Addr,
		row.State, row.Check, row.Reason, adm.State, adm.Who, adm.Why, row.Detail}, " "))
	return row
}

// stateOf names the row's state and its rank. Health comes first: a
// drained backend that is also down is shown down (that needs attention
// whatever the admin state); the admin state stays visible in its column.
func stateOf(b health.Backend) (string, int) {
	switch {
	case !b.Healthy:
		return "down", rankDown
	case b.Eligible || b.Reason == "":
		return "up", rankOK
	case b.Reason == health.ReasonStale:
		return "stale", rankStale
	case b.Reason == health.ReasonMaint || b.Reason == health.ReasonAgentMaint:
		return "maint", rankMaint
	case b.Reason == health.ReasonAgentDown:
		return "down", rankDown
	case b.Draining:
		// Still serving the users the sticky policy stored for it.
		return "draining", rankDrain
	case b.Reason == health.ReasonDrain || b.Reason == health.ReasonAgentDrain:
		return "drain", rankDrain
	case b.Reason == health.ReasonUnhealthy:
		return "down", rankDown
	default:
		return string(b.Reason), rankIneligible
	}
}

func adminText(a pageAdmin, now time.Time) (string, string) {
	text := a.State
	if a.Extra != "" {
		text += " (" + a.Extra + ")"
	}
	if a.Who != "" {
		text += " by " + a.Who
	}
	if a.Why != "" {
		text += ": " + a.Why
	}
	if a.Until.IsZero() {
		return text, ""
	}
	return text, "until " + a.Until.UTC().Format("2006-01-02 15:04 UTC") + " (in " + shortDuration(a.Until.Sub(now)) + ")"
}

func hostPort(host string, port int) string {
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return host + ":" + strconv.Itoa(port)
}
