package server

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/probe"
	"github.com/backline/backline/internal/server/statuspagefake"
)

var pageNow = time.Date(2026, 12, 3, 7, 0, 0, 0, time.UTC)

// pageRow is one backend row as a browser would see it.
type pageRow struct {
	id, class string
	cells     []string // text content of each cell
}

// parsedPage is the DOM of a rendered page, with the checks every page
// must pass: our one script, no element or attribute smuggled in by data.
type parsedPage struct {
	root    *html.Node
	rows    []pageRow
	rollups []string
	text    string
}

func render(t *testing.T, snap *health.Snapshot, q string) parsedPage {
	t.Helper()
	var buf bytes.Buffer
	if err := renderStatus(&buf, snap, nil, "v-test", q, pageNow); err != nil {
		t.Fatalf("render: %v", err)
	}
	return parsePage(t, buf.String())
}

func parsePage(t *testing.T, body string) parsedPage {
	t.Helper()
	root, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	p := parsedPage{root: root, text: textOf(root)}
	scripts := 0
	for n := range root.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		switch n.Data {
		case "script":
			scripts++
		case "img", "iframe", "object", "embed":
			t.Errorf("page contains a <%s> element: data escaped into markup", n.Data)
		}
		for _, a := range n.Attr {
			if strings.HasPrefix(a.Key, "on") {
				t.Errorf("<%s> has an event handler attribute %s=%q", n.Data, a.Key, a.Val)
			}
		}
		if n.Data == "tr" && attr(n, "data-id") != "" {
			r := pageRow{id: attr(n, "data-id"), class: attr(n, "class")}
			for c := range n.ChildNodes() {
				if c.Type == html.ElementNode && c.Data == "td" {
					r.cells = append(r.cells, strings.Join(strings.Fields(textOf(c)), " "))
				}
			}
			p.rows = append(p.rows, r)
		}
		if n.Data == "li" && n.Parent != nil && attr(n.Parent, "id") == "rollups" {
			p.rollups = append(p.rollups, textOf(n))
		}
	}
	if scripts != 1 {
		t.Errorf("page has %d script elements, want exactly our one", scripts)
	}
	return p
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func textOf(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		switch {
		case d.Type == html.ElementNode && d.Data == "br":
			b.WriteString(" ")
		case d.Type == html.TextNode && (d.Parent == nil || d.Parent.Data != "script" && d.Parent.Data != "style"):
			b.WriteString(d.Data)
		}
	}
	return b.String()
}

// Cell positions in a row.
const (
	cState = iota
	cBackend
	cGroup
	cAddr
	cFor
	cAdmin
	cCheck
	cError
	cLatency
	cUptime
	cCert
)

func (p parsedPage) row(t *testing.T, id string) pageRow {
	t.Helper()
	for _, r := range p.rows {
		if r.id == id {
			return r
		}
	}
	t.Fatalf("no row for %q", id)
	return pageRow{}
}

func TestStatusPageServes(t *testing.T) {
	h := newTestServer(t, config.APIAuth{}).Handler()
	got := do(t, h, "GET", "/", nil)
	if got.status != 200 || got.header.Get("Content-Type") != "text/html; charset=utf-8" ||
		got.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("status page: %d %q", got.status, got.header)
	}
	if !strings.HasPrefix(got.header.Get("Server-Timing"), "render;dur=") {
		t.Errorf("Server-Timing %q", got.header.Get("Server-Timing"))
	}
	p := parsePage(t, got.body)
	for _, want := range []string{
		"backline: 2/3 backends healthy", "imap://127.0.0.1:993", "pop3://10.0.0.2:110",
		"dial tcp 10.0.0.2:110: connect: connection refused", `<script>alert("x")</script>`, "2027-01-02",
	} {
		if !strings.Contains(p.text, want) {
			t.Errorf("status page lacks %q", want)
		}
	}
	if !strings.Contains(got.body, `<meta http-equiv="refresh" content="5">`) {
		t.Error("no meta refresh for browsers without JavaScript")
	}
	if strings.Contains(got.body, testPassword) || strings.Contains(got.body, "healthcheck-user") {
		t.Error("status page shows a credential")
	}
	// The unhealthy POP3 target comes first.
	if len(p.rows) != 3 || p.rows[0].id != "pop3://10.0.0.2:110" {
		t.Errorf("rows %v: want the unhealthy pop3 backend first", p.rows)
	}
}

func TestStatusPageProblemsFirst(t *testing.T) {
	p := render(t, statuspagefake.Broken(pageNow), "")
	var ids, states []string
	for _, r := range p.rows {
		ids = append(ids, r.id)
		states = append(states, r.cells[cState])
	}
	want := []string{"down", "down", "down", "stale", "up", "up", "up", "up"}
	if strings.Join(states, ",") != strings.Join(want, ",") {
		t.Fatalf("states in order %v, want %v (ids %v)", states, want, ids)
	}
	// Configuration order within a kind.
	if ids[0] != "imap02" || ids[1] != "imap03" || ids[2] != "pop01" || ids[4] != "imap01" {
		t.Errorf("order within a kind lost: %v", ids)
	}
	if !strings.Contains(p.rows[0].class, "p") || strings.Contains(p.rows[4].class, " p") {
		t.Errorf("problem class: %q / %q", p.rows[0].class, p.rows[4].class)
	}
	if !strings.Contains(p.text, "5 of 8 backends healthy, 4 need attention") {
		t.Errorf("summary line missing: %s", p.text[:200])
	}
}

func TestStatusPageRollups(t *testing.T) {
	p := render(t, statuspagefake.Broken(pageNow), "")
	want := []string{"imap: 3/5 up, 2 eligible", "pop3: 1/2 up", "gateway:web: 1/1 up"}
	if strings.Join(p.rollups, "|") != strings.Join(want, "|") {
		t.Errorf("roll-ups %q, want %q", p.rollups, want)
	}
	p = render(t, statuspagefake.AllHealthy(pageNow), "")
	if strings.Join(p.rollups, "|") != "imap: 4/4 up|pop3: 2/2 up|gateway:web: 1/1 up" {
		t.Errorf("roll-ups %q", p.rollups)
	}
}

func TestStatusPageCells(t *testing.T) {
	p := render(t, statuspagefake.Broken(pageNow), "")
	refused := p.row(t, "imap02")
	if refused.cells[cAddr] != "10.0.1.2:143" || refused.cells[cFor] != "10m" ||
		refused.cells[cCheck] != "connect (connect_refused) 3s ago" || refused.cells[cGroup] != "mail" {
		t.Errorf("refused row: %q", refused.cells)
	}
	if got := refused.cells[cUptime]; got != "83.3% / 99.0% / 99.8%" {
		t.Errorf("uptime %q", got)
	}
	tlsRow := p.row(t, "imap03")
	if tlsRow.cells[cCheck] != "tls 3s ago" ||
		tlsRow.cells[cError] != "read tcp 10.0.1.3:143: tls: failed to verify certificate" {
		t.Errorf("tls row: %q", tlsRow.cells)
	}
	if got := p.row(t, "pop01").cells[cCheck]; got != "auth 3s ago" {
		t.Errorf("auth row check %q", got)
	}
	if r := p.row(t, "imap04"); r.cells[cCheck] != "ok 10m ago" || r.cells[cFor] != "10m" {
		t.Errorf("stale row: check %q, for %q (want stale since the last check)", r.cells[cCheck], r.cells[cFor])
	}
	if n := findCell(p.root, "imap04", cAdmin); attr(n, "class") != "adm cfg" {
		t.Errorf("admin cell as configured: class %q", attr(n, "class"))
	}
	// Certificates: critical under 3 days, warning under 14, plain beyond.
	for id, want := range map[string][2]string{
		"imap01":                           {"2026-12-05 (2d0h)", "cert crit"},
		"pop02":                            {"2026-12-13 (10 d)", "cert warn"},
		"gateway:web@http://10.0.3.1:8080": {"2027-06-21", "cert "},
	} {
		r := p.row(t, id)
		if r.cells[cCert] != want[0] {
			t.Errorf("%s certificate %q, want %q", id, r.cells[cCert], want[0])
		}
		if n := findCell(p.root, id, cCert); attr(n, "class") != want[1] {
			t.Errorf("%s certificate class %q, want %q", id, attr(n, "class"), want[1])
		}
	}
	if n := findCell(p.root, "imap01", cLatency); n == nil || n.FirstChild == nil || n.FirstChild.Data != "svg" {
		t.Error("no sparkline svg in the latency cell")
	}
}

func findCell(root *html.Node, id string, index int) *html.Node {
	for n := range root.Descendants() {
		if n.Type == html.ElementNode && n.Data == "tr" && attr(n, "data-id") == id {
			i := 0
			for c := range n.ChildNodes() {
				if c.Type == html.ElementNode && c.Data == "td" {
					if i == index {
						return c
					}
					i++
				}
			}
		}
	}
	return nil
}

func TestStatusPageAdminColumn(t *testing.T) {
	b := statuspagefake.Healthy(statuspagefake.Target("mbox03", "imap", "10.0.0.3", 143, false), health.GroupMail, pageNow)
	b.Eligible, b.Reason = false, health.ReasonDrain
	adm := pageAdmin{State: "drain", Who: "alice", Why: `disk swap <b>"now"</b>`, Since: pageNow.Add(-5 * time.Minute),
		Until: pageNow.Add(25 * time.Minute), Source: "api"}
	row := buildRow(b, adm, pageNow)
	if row.State != "drain" || row.InState != "5m" || !row.Problem {
		t.Errorf("drained row: state %q for %q problem %v", row.State, row.InState, row.Problem)
	}
	if row.AdminText != `drain by alice: disk swap <b>"now"</b>` || row.Until != "until 2026-12-03 07:25 UTC (in 25m)" {
		t.Errorf("admin %q %q", row.AdminText, row.Until)
	}
	if !strings.Contains(row.Key, "alice") || !strings.Contains(row.Key, "disk swap") {
		t.Errorf("filter key lacks who/why: %q", row.Key)
	}
	// A drained backend that is also down shows down, and sorts with the
	// other down ones.
	b.Healthy = false
	if row := buildRow(b, adm, pageNow); row.State != "down" || row.rank != rankDown {
		t.Errorf("drained and down: %q rank %d", row.State, row.rank)
	}
}

func TestStatusPageQueryFilter(t *testing.T) {
	p := render(t, statuspagefake.Broken(pageNow), "POP")
	if len(p.rows) != 2 || p.rows[0].id != "pop01" || p.rows[1].id != "pop02" {
		t.Errorf("?q=POP rows %v", p.rows)
	}
	if !strings.Contains(p.text, "2 of 8 shown") {
		t.Error("shown count missing")
	}
	// Roll-ups always cover everything.
	if len(p.rollups) != 3 {
		t.Errorf("roll-ups under a filter: %q", p.rollups)
	}
	p = render(t, statuspagefake.Broken(pageNow), "10.0.1.3:143")
	if len(p.rows) != 1 || p.rows[0].id != "imap03" {
		t.Errorf("filter by host:port: %v", p.rows)
	}
	p = render(t, statuspagefake.Broken(pageNow), "no-such-thing")
	if len(p.rows) != 0 || !strings.Contains(p.text, "No backends match the filter") {
		t.Errorf("empty filter result: %v", p.rows)
	}
	// Through the handler: an oversized or hostile q is cut and escaped.
	h := newTestServer(t, config.APIAuth{}).Handler()
	got := do(t, h, "GET", "/?q="+strings.Repeat("%22%3E%3Cscript%3E", 100), nil)
	if got.status != 200 {
		t.Fatalf("status %d", got.status)
	}
	parsePage(t, got.body) // one script element, no injected markup
}

func TestStatusPageHostileText(t *testing.T) {
	snap := statuspagefake.Broken(pageNow)
	hostile := statuspagefake.Hostile
	last := &snap.Backends[len(snap.Backends)-1]
	last.Group = "gateway:" + hostile
	last.Connect.LastError = "server said: " + hostile + "\x00\x1b[31m"
	last.Connect.LastReason = probe.ReasonProtocol
	last.Healthy, last.Eligible, last.Reason = false, false, health.ReasonUnhealthy
	last.Mechanism = hostile
	last.Target.DeepCheck = true
	last.Deep = last.Connect
	p := render(t, snap, `'"><IMG`)
	if len(p.rows) != 1 {
		t.Fatalf("filtering by hostile text: %d rows", len(p.rows))
	}
	r := p.render1(t)
	if r.id != hostile {
		t.Errorf("data-id %q, want the name intact", r.id)
	}
	if !strings.Contains(r.cells[cBackend], hostile) {
		t.Errorf("backend cell %q lacks the name as text", r.cells[cBackend])
	}
	if !strings.Contains(r.cells[cError], "server said: <script>") || strings.ContainsAny(r.cells[cError], "\x00\x1b") {
		t.Errorf("error cell %q", r.cells[cError])
	}
	found := false
	for _, ru := range p.rollups {
		found = found || strings.Contains(ru, hostile)
	}
	if !found {
		t.Errorf("roll-ups %q lack the hostile group as text", p.rollups)
	}
}

func (p parsedPage) render1(t *testing.T) pageRow {
	t.Helper()
	if len(p.rows) != 1 {
		t.Fatalf("%d rows, want 1", len(p.rows))
	}
	return p.rows[0]
}

func TestStatusPageEmptyAndFirstRound(t *testing.T) {
	p := render(t, nil, "")
	if len(p.rows) != 0 || !strings.Contains(p.text, "No backends configured") {
		t.Errorf("nil snapshot: %v", p.rows)
	}
	snap := statuspagefake.AllHealthy(pageNow)
	snap.Round, snap.Taken = 0, time.Time{}
	for i := range snap.Backends {
		snap.Backends[i].History = nil
		snap.Backends[i].Uptime = health.UptimeSummary{}
		snap.Backends[i].Connect = health.PhaseState{Healthy: true}
		snap.Backends[i].Deep = health.PhaseState{Healthy: true}
	}
	p = render(t, snap, "")
	if !strings.Contains(p.text, "first probe round has not finished") {
		t.Error("no first-round note")
	}
	if r := p.row(t, "imap01"); r.cells[cCheck] != "pending never" || r.cells[cUptime] != "– / – / –" {
		t.Errorf("unchecked row: %q", r.cells)
	}
}

func TestStatusPageDrainedFromSnapshot(t *testing.T) {
	snap := statuspagefake.Drained(pageNow)
	p := render(t, snap, "alice")
	r := p.render1(t)
	if n := findCell(p.root, r.id, cAdmin); attr(n, "class") != "adm" {
		t.Errorf("admin cell of a drained backend: class %q", attr(n, "class"))
	}
	if r.id != statuspagefake.DrainedID || r.cells[cState] != "draining" || r.cells[cFor] != "5m" ||
		r.cells[cAdmin] != "drain by alice: disk swap until 2026-12-03 07:25 UTC (in 25m)" {
		t.Errorf("drained row: %q", r.cells)
	}
	b := &snap.Backends[0]
	b.Admin.Health, b.Admin.ChecksPaused, b.Weight = health.HealthDown, true, 0
	b.Eligible, b.Reason = false, health.ReasonForcedDown
	p = render(t, snap, "")
	if r := p.row(t, "imap01"); r.cells[cState] != "forced_down" ||
		r.cells[cAdmin] != "ready (health forced down, checks paused, weight 0)" {
		t.Errorf("forced down row: %q", r.cells)
	}
	if p.rows[0].id != statuspagefake.DrainedID || p.rows[1].id != "imap01" {
		t.Errorf("order: drain before other ineligible: %v", p.rows)
	}
}

// TestStatusPageCSP: the policy allows exactly the inline script and style
// sheets the page contains, by hash, and nothing from elsewhere.
func TestStatusPageCSP(t *testing.T) {
	h := newTestServer(t, config.APIAuth{}).Handler()
	got := do(t, h, "GET", "/", nil)
	csp := got.header.Get("Content-Security-Policy")
	if got.header.Get("X-Frame-Options") != "SAMEORIGIN" || !strings.Contains(csp, "frame-ancestors 'self'") ||
		!strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "unsafe-inline") {
		t.Fatalf("headers: CSP %q, X-Frame-Options %q", csp, got.header.Get("X-Frame-Options"))
	}
	// Parsed as a browser without scripts does, so that noscript's style
	// sheet is an element too.
	root, err := html.ParseWithOptions(strings.NewReader(got.body), html.ParseOptionEnableScripting(false))
	if err != nil {
		t.Fatal(err)
	}
	blocks := 0
	for n := range root.Descendants() {
		if n.Type != html.ElementNode || n.Data != "script" && n.Data != "style" {
			continue
		}
		content := ""
		if n.FirstChild != nil {
			content = n.FirstChild.Data
		}
		if !strings.Contains(csp, hashSource(content)) {
			t.Errorf("<%s> with %d bytes is not allowed by the policy", n.Data, len(content))
		}
		blocks++
	}
	if blocks != 3 {
		t.Errorf("found %d script/style blocks, want the style sheet, the noscript one and the script", blocks)
	}
}
