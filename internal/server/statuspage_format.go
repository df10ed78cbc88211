package server

import (
	"html/template"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/probe"
)

// Formatting for the status page: everything here turns snapshot values
// into short strings (escaped later by html/template) or, for the
// sparkline, into SVG built from numbers only.

// checkClass maps a probe reason to the HAProxy-like class the page shows:
// connect, tls, timeout, protocol or auth. The few finer reasons that do
// not fit one of them keep their own name ("local_resource" never reaches
// a snapshot; "config" means the server does not offer what the check
// needs, which is a protocol-level answer).
func checkClass(r probe.Reason) string {
	switch r {
	case probe.ReasonNone:
		return "ok"
	case probe.ReasonRefused, probe.ReasonConnect, probe.ReasonDNS:
		return "connect"
	case probe.ReasonTimeout:
		return "timeout"
	case probe.ReasonTLS:
		return "tls"
	case probe.ReasonProtocol, probe.ReasonProxy, probe.ReasonConfig:
		return "protocol"
	case probe.ReasonAuth:
		return "auth"
	default:
		return string(r)
	}
}

// lastCheck picks the phase whose result the page shows: the deep phase
// when it failed, else a failing connect phase, else whichever ran last.
func lastCheck(b health.Backend, deepCheck bool) health.PhaseState {
	switch {
	case deepCheck && b.Deep.LastReason != probe.ReasonNone:
		return b.Deep
	case b.Connect.LastReason != probe.ReasonNone:
		return b.Connect
	case deepCheck && !b.Deep.LastCheck.Before(b.Connect.LastCheck):
		return b.Deep
	default:
		return b.Connect
	}
}

// maxErrorRunes bounds one error text on the page; the JSON API has it all.
const maxErrorRunes = 300

// cleanError removes the local half of "local->remote" socket addresses
// ("read tcp 127.0.0.1:54321->10.0.0.2:143: i/o timeout"): the ephemeral
// port changes with every check, so it only makes equal errors look
// different. Control characters become spaces and long texts are cut.
func cleanError(s string) string {
	if len(s) > 4*maxErrorRunes {
		s = s[:4*maxErrorRunes] // bounds the work below; cut again by runes
	}
	return truncateRunes(stripLocalAddrs(s))
}

func stripLocalAddrs(s string) string {
	for {
		i := strings.Index(s, "->")
		if i < 0 {
			return s
		}
		start := strings.LastIndexAny(s[:i], " \t") + 1
		if !isHostPort(s[start:i]) {
			// Not an address ("a -> b" in a server's text): keep it, and
			// keep looking after it.
			return s[:i+2] + stripLocalAddrs(s[i+2:])
		}
		s = s[:start] + s[i+2:]
	}
}

func truncateRunes(s string) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == maxErrorRunes {
			b.WriteString("…")
			break
		}
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			r = ' '
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// isHostPort tells whether s looks like host:port or [v6]:port.
func isHostPort(s string) bool {
	i := strings.LastIndexByte(s, ':')
	if i <= 0 || i == len(s)-1 {
		return false
	}
	if _, err := strconv.ParseUint(s[i+1:], 10, 16); err != nil {
		return false
	}
	host := s[:i]
	if strings.HasPrefix(host, "[") {
		return strings.HasSuffix(host, "]")
	}
	return !strings.ContainsAny(host, ":/\"'<>")
}

// shortDuration prints 45s, 12m, 3h12m or 5d3h: a column of 1,000 of them
// must be readable at a glance.
func shortDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d / time.Second)
	switch {
	case s < 60:
		return strconv.FormatInt(s, 10) + "s"
	case s < 3600:
		return strconv.FormatInt(s/60, 10) + "m"
	case s < 86400:
		return strconv.FormatInt(s/3600, 10) + "h" + strconv.FormatInt(s%3600/60, 10) + "m"
	default:
		return strconv.FormatInt(s/86400, 10) + "d" + strconv.FormatInt(s%86400/3600, 10) + "h"
	}
}

func ago(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return shortDuration(now.Sub(t)) + " ago"
}

// latencyText prints a latency with two significant decimals at most.
func latencyText(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case d == 0:
		return ""
	case ms < 10:
		return strconv.FormatFloat(ms, 'f', 2, 64) + " ms"
	case ms < 1000:
		return strconv.FormatFloat(ms, 'f', 0, 64) + " ms"
	default:
		return strconv.FormatFloat(ms/1000, 'f', 1, 64) + " s"
	}
}

// uptimeText is a window's ratio; "–" when nothing in it was checked.
func uptimeText(w health.UptimeWindow) string {
	ratio := w.Ratio
	if w.Checked <= 0 {
		return "–"
	}
	if ratio >= 1 {
		return "100%"
	}
	// Never round 99.96 up to 100: anything short of all is shown as such.
	return strconv.FormatFloat(float64(int(ratio*1000))/10, 'f', 1, 64) + "%"
}

// Certificate thresholds: warn under 14 days, critical under 3.
const (
	certWarn = 14 * 24 * time.Hour
	certCrit = 3 * 24 * time.Hour
)

// certText returns the expiry date with days left, and a CSS class.
func certText(notAfter, now time.Time) (string, string) {
	if notAfter.IsZero() {
		return "", ""
	}
	left := notAfter.Sub(now)
	text := notAfter.UTC().Format("2006-01-02")
	switch {
	case left <= 0:
		return text + " (expired)", "crit"
	case left < certCrit:
		return text + " (" + shortDuration(left) + ")", "crit"
	case left < certWarn:
		return text + " (" + strconv.Itoa(int(left/(24*time.Hour))) + " d)", "warn"
	default:
		return text, ""
	}
}

// Sparkline geometry: one point per minute, 2 px apart.
const (
	sparkStep   = 2
	sparkHeight = 20
	sparkWidth  = (health.HistoryMinutes - 1) * sparkStep
)

// sparkline draws the average latency per minute of the hour before now as
// an inline SVG polyline (gaps where there was no successful check), scaled
// to the hour's maximum, with a red mark under every minute that had a
// failed check. The history ends at the backend's last check; when that is
// minutes old (paused or stale checks) the line is shifted left by as much.
// Only numbers go into the markup, so it is safe as template.HTML.
func sparkline(h *health.HistorySummary, now time.Time) template.HTML {
	if h == nil || h.Checks1h == 0 {
		return ""
	}
	shift := int(now.Unix()/60 - h.End.Unix()/60)
	if shift >= health.HistoryMinutes {
		return ""
	}
	shift = max(shift, 0)
	points := h.Minutes[shift:] // drawn from x = 0; the newest minute at len-1
	var top time.Duration
	for _, p := range points {
		top = max(top, p.Avg)
	}
	b := make([]byte, 0, 512)
	b = append(b, `<svg class="spark" width="`...)
	b = strconv.AppendInt(b, sparkWidth, 10)
	b = append(b, `" height="`...)
	b = strconv.AppendInt(b, sparkHeight+3, 10)
	b = append(b, `" role="img" aria-label="latency, last hour"><path d="`...)
	pen := false
	for i, p := range points {
		if p.Avg == 0 || top == 0 {
			pen = false
			continue
		}
		if pen {
			b = append(b, 'L')
		} else {
			b = append(b, 'M')
		}
		pen = true
		y := sparkHeight - int64(p.Avg*(sparkHeight-1)/top)
		b = strconv.AppendInt(b, int64(i*sparkStep), 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, y, 10)
	}
	b = append(b, `"/>`...)
	for i, p := range points {
		if p.Fails > 0 {
			b = append(b, `<rect class="f" x="`...)
			b = strconv.AppendInt(b, int64(i*sparkStep), 10)
			b = append(b, `" y="`...)
			b = strconv.AppendInt(b, sparkHeight+1, 10)
			b = append(b, `" width="2" height="2"/>`...)
		}
	}
	b = append(b, `<title>max `...)
	b = append(b, latencyText(top)...)
	b = append(b, ` (average per minute)</title></svg>`...)
	return template.HTML(b) //nolint:gosec // numbers and constant text only
}
