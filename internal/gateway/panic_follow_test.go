package gateway

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// feedHealth is staticHealth that tells FollowHealth about each set.
type feedHealth struct {
	staticHealth
	ch chan struct{}
}

func (f *feedHealth) Changes() <-chan struct{} { return f.ch }

// Bug: only requests judged panic mode, so an idle backend whose origins
// the checks took out never showed backline_gateway_origins_panic 1 (nor
// counted or logged the panic), and one whose origins came back kept 1
// until its next request. The verdict now follows each health snapshot.
func TestPanicGaugeFollowsHealthWithoutRequests(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	yml := originsYAML("      beta_health:\n        interval: 1h\n      panic_threshold: 50\n", "http://127.0.0.1:4001", "http://127.0.0.1:4002")
	g, err := New(Options{Config: parseConfig(t, yml), Logger: slog.New(slog.NewJSONHandler(logs, nil)), Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	feed := &feedHealth{ch: make(chan struct{}, 1)}
	group := g.HealthGroups()[0]
	feed.set(group, []bool{true, true}, nil)
	g.SetHealth(feed)
	g.Activate()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); m.FollowHealth(ctx, feed) }()
	defer func() { cancel(); <-done }()

	gauge := func() float64 { v, _ := seriesValue(t, reg, "backline_gateway_origins_panic", "api"); return v }
	feed.set(group, []bool{false, false}, nil)
	feed.ch <- struct{}{}
	waitFor(t, "the panic gauge at 1 after the checks took both origins out", func() bool { return gauge() == 1 })
	if v, _ := seriesValue(t, reg, "backline_gateway_origins_panic_total", "api"); v != 1 {
		t.Errorf("panic_total %v, want 1", v)
	}
	waitFor(t, "the panic WARN", func() bool { return strings.Contains(logs.String(), `"msg":"gateway backend in panic mode`) })
	feed.set(group, []bool{true, false}, nil)
	feed.ch <- struct{}{}
	waitFor(t, "the panic gauge at 0 after one origin came back", func() bool { return gauge() == 0 })
}

// Bug: a reload that changed panic_threshold left the gauge at the old
// threshold's verdict until the next request. Activate judges at once.
func TestPanicGaugeFollowsReloadedThreshold(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	origins := []string{"http://127.0.0.1:4001", "http://127.0.0.1:4002"}
	src := &staticHealth{}
	build := func(threshold string) *Gateway {
		t.Helper()
		g, err := New(Options{Config: parseConfig(t, originsYAML("      beta_health:\n        interval: 1h\n      panic_threshold: "+threshold+"\n", origins...)), Metrics: m})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(g.Close)
		g.SetHealth(src)
		return g
	}
	first := build("50")
	src.set(first.HealthGroups()[0], []bool{true, false}, nil) // 1 of 2: not below 50 %
	first.Activate()
	if v, _ := seriesValue(t, reg, "backline_gateway_origins_panic", "api"); v != 0 {
		t.Fatalf("panic gauge %v at 50 %%, want 0", v)
	}
	second := build("80") // 1 of 2 is below 80 %
	second.Activate()
	if v, _ := seriesValue(t, reg, "backline_gateway_origins_panic", "api"); v != 1 {
		t.Errorf("panic gauge %v right after the reload to 80 %%, want 1", v)
	}
	third := build("50")
	third.Activate()
	if v, _ := seriesValue(t, reg, "backline_gateway_origins_panic", "api"); v != 0 {
		t.Errorf("panic gauge %v right after the reload back to 50 %%, want 0", v)
	}
}
