package server

import (
	"bytes"
	"html/template"
	"strings"
	"testing"
	"time"

	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/probe"
	"github.com/backline/backline/internal/server/statuspagefake"
)

func TestCheckClass(t *testing.T) {
	for reason, want := range map[probe.Reason]string{
		probe.ReasonNone: "ok", probe.ReasonRefused: "connect", probe.ReasonConnect: "connect",
		probe.ReasonDNS: "connect", probe.ReasonTimeout: "timeout", probe.ReasonTLS: "tls",
		probe.ReasonProxy: "protocol", probe.ReasonProtocol: "protocol", probe.ReasonConfig: "protocol",
		probe.ReasonAuth: "auth", probe.ReasonLocal: "local_resource",
	} {
		if got := checkClass(reason); got != want {
			t.Errorf("checkClass(%q) = %q, want %q", reason, got, want)
		}
	}
}

func TestCleanError(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"read tcp 127.0.0.1:54321->127.0.0.1:143: i/o timeout", "read tcp 127.0.0.1:143: i/o timeout"},
		{"write tcp [::1]:40000->[::1]:993: broken pipe", "write tcp [::1]:993: broken pipe"},
		{"read tcp 10.0.0.5:61000->mail.example.org:143: reset", "read tcp mail.example.org:143: reset"},
		{"dial tcp 10.0.0.2:110: connect: connection refused", "dial tcp 10.0.0.2:110: connect: connection refused"},
		{"a b->c then read tcp 1.2.3.4:5->6.7.8.9:10: x", "a b->c then read tcp 6.7.8.9:10: x"},
		{"server: -> 127.0.0.1:1->x", "server: -> x"},
		{"line\r\nbreak\x00", "line  break "},
		{"->", "->"},
		{":1->", ":1->"},
	} {
		if got := cleanError(tc.in); got != tc.want {
			t.Errorf("cleanError(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	long := cleanError(strings.Repeat("ü", 10000))
	if n := len([]rune(long)); n != maxErrorRunes+1 || !strings.HasSuffix(long, "…") {
		t.Errorf("long error cut to %d runes", n)
	}
	// Many arrows must not blow up (each is looked at once).
	_ = cleanError(strings.Repeat("x->", 100000))
}

func TestUptimeAndDurations(t *testing.T) {
	for in, want := range map[float64]string{1: "100%", 0.9999: "99.9%", 0: "0.0%", 0.5: "50.0%"} {
		if got := uptimeText(health.UptimeWindow{Ratio: in, Checked: time.Minute}); got != want {
			t.Errorf("uptimeText(%v) = %q, want %q", in, got, want)
		}
	}
	if got := uptimeText(health.UptimeWindow{}); got != "–" {
		t.Errorf("uptimeText of a window without checked time = %q, want –", got)
	}
	for in, want := range map[time.Duration]string{-time.Second: "0s", 59 * time.Second: "59s",
		61 * time.Minute: "1h1m", 49 * time.Hour: "2d1h"} {
		if got := shortDuration(in); got != want {
			t.Errorf("shortDuration(%v) = %q, want %q", in, got, want)
		}
	}
	if s, c := certText(pageNow.Add(-time.Hour), pageNow); s != "2026-12-03 (expired)" || c != "crit" {
		t.Errorf("expired certificate: %q %q", s, c)
	}
}

func TestSparkline(t *testing.T) {
	if sparkline(nil, pageNow) != "" {
		t.Error("sparkline of no history")
	}
	h := &health.HistorySummary{Checks1h: 3, End: pageNow.Add(10 * time.Second)}
	h.Minutes[0] = health.HistoryPoint{Checks: 1, Avg: time.Millisecond}
	h.Minutes[1] = health.HistoryPoint{Checks: 1, Fails: 1}
	h.Minutes[59] = health.HistoryPoint{Checks: 1, Avg: 4 * time.Millisecond}
	got := string(sparkline(h, pageNow))
	// A gap between minute 0 and minute 59, the highest point at the top,
	// a failure mark under minute 1.
	for _, want := range []string{`d="M0 16M118 1"`, `<rect class="f" x="2"`, "max 4.00 ms"} {
		if !strings.Contains(got, want) {
			t.Errorf("sparkline %s lacks %s", got, want)
		}
	}
	// Checks stopped 59 minutes ago: only the newest minute is left, at
	// the left edge; an hour later nothing is.
	got = string(sparkline(h, h.End.Add(59*time.Minute)))
	if !strings.Contains(got, `d="M0 1"`) || strings.Contains(got, "<rect") {
		t.Errorf("shifted sparkline %s", got)
	}
	if got := sparkline(h, h.End.Add(time.Hour)); got != "" {
		t.Errorf("sparkline of an hour-old history: %s", got)
	}
}

// TestEscapeHTMLMatchesTemplate: the rows' escaper does what html/template
// does for text and quoted attributes, on hostile and random input.
func TestEscapeHTMLMatchesTemplate(t *testing.T) {
	inputs := []string{"", "plain", statuspagefake.Hostile, "a\x00b", "\xff\xfe<", `&amp;"'`, "ü<>&"}
	seed := uint32(1)
	for range 2000 {
		b := make([]byte, seed%40)
		for i := range b {
			seed = seed*1664525 + 1013904223
			b[i] = byte(seed >> 24)
		}
		inputs = append(inputs, string(b))
	}
	for _, in := range inputs {
		var buf bytes.Buffer
		escapeHTML(&buf, in)
		if want := template.HTMLEscapeString(in); buf.String() != want {
			t.Fatalf("escapeHTML(%q) = %q, want %q", in, buf.String(), want)
		}
	}
}
