package fastlog

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"
)

// viaSlog is what slog's own handler writes for the record.
func viaSlog(t *testing.T, json bool, tm time.Time, level slog.Level, msg string, attrs []slog.Attr) string {
	t.Helper()
	var buf bytes.Buffer
	h := Wrap(&buf, json, &slog.HandlerOptions{Level: slog.LevelDebug})
	r := slog.NewRecord(tm, level, msg, 0)
	r.AddAttrs(attrs...)
	if err := h.Handle(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func fast(json bool, tm time.Time, level slog.Level, msg string, attrs []slog.Attr) (string, bool) {
	var buf bytes.Buffer
	h := Wrap(&buf, json, &slog.HandlerOptions{Level: slog.LevelDebug})
	ok := h.WriteLine(tm, level, msg, attrs)
	return buf.String(), ok
}

var testTimes = []time.Time{
	time.Date(2026, 12, 3, 7, 20, 36, 0, time.UTC),
	time.Date(2026, 12, 3, 7, 20, 36, 999_999_999, time.UTC),
	time.Date(2026, 1, 2, 3, 4, 5, 120_000_000, time.FixedZone("x", -(5*3600+30*60))),
	time.Date(1999, 12, 31, 23, 59, 59, 1_000, time.FixedZone("y", 3600)),
	time.Now(),
}

func requestAttrs() []slog.Attr {
	return []slog.Attr{
		slog.String("session", "0f3a9c1d2e4b5a6c"),
		slog.String("endpoint", "nginx"),
		slog.String("outcome", "ok"),
		slog.String("user", "user@example.org"),
		slog.String("protocol", "imap"),
		slog.String("client_ip", "2001:db8::1"),
		slog.String("passdb", "file"),
		slog.Bool("cache_hit", true),
		slog.String("backend", "[::1]:143"),
		slog.String("selected_by", "lua"),
		slog.Bool("panic", false),
		slog.String("filter_results", "route,geo"),
		slog.String("empty", ""),
		slog.Int64("n", -42),
		slog.Int("count", 7),
		slog.Duration("latency", 1234567*time.Nanosecond),
		slog.Duration("short", 850*time.Nanosecond),
		slog.Duration("long", 90*time.Minute+3*time.Millisecond),
		slog.Duration("zero", 0),
		slog.Duration("neg", -3*time.Microsecond),
	}
}

// TestFastLineMatchesSlog: every line WriteLine accepts is byte for byte
// slog's, in both formats, at several times and zones.
func TestFastLineMatchesSlog(t *testing.T) {
	for _, json := range []bool{false, true} {
		for _, tm := range testTimes {
			for _, msg := range []string{"auth request", "x", ""} {
				for _, level := range []slog.Level{slog.LevelInfo, slog.LevelWarn, slog.LevelError + 2} {
					want := viaSlog(t, json, tm, level, msg, requestAttrs())
					got, ok := fast(json, tm, level, msg, requestAttrs())
					if msg == "" && !json {
						if ok {
							t.Fatalf("empty text message accepted: %q", got)
						}
						continue
					}
					if !ok {
						t.Fatalf("json=%v msg=%q: declined", json, msg)
					}
					if got != want {
						t.Fatalf("json=%v:\n got %q\nwant %q", json, got, want)
					}
				}
			}
		}
	}
}

// TestFastLineDeclinesWhatNeedsEscaping: hostile keys, values and kinds go
// to slog (nothing written); slog then quotes or escapes them.
func TestFastLineDeclinesWhatNeedsEscaping(t *testing.T) {
	hostile := []string{
		"a b", "a=b", `a"b`, `a\b`, "a\nb", "a\x00b", "a\x7fb", "\xff", "é", "a\u2028b",
		"<script>", "a&b", "x'y", "tab\t", " lead", "trail ", "{}", "a#b",
	}
	tm := testTimes[0]
	for _, json := range []bool{false, true} {
		for _, s := range hostile {
			for _, attrs := range [][]slog.Attr{
				{slog.String("user", s)},
				{slog.String(s, "v")},
				{slog.String("ok", "v"), slog.String("user", s)},
			} {
				if got, ok := fast(json, tm, slog.LevelInfo, "auth request", attrs); ok || got != "" {
					t.Fatalf("json=%v %q: accepted %q", json, s, got)
				}
			}
			if got, ok := fast(json, tm, slog.LevelInfo, s, nil); s != "a b" && (ok || got != "") {
				t.Fatalf("json=%v msg %q: accepted %q", json, s, got)
			}
		}
		for _, a := range []slog.Attr{
			slog.Float64("f", 1.5), slog.Any("any", []int{1}), slog.Group("g", slog.String("a", "b")),
			slog.Time("t", tm), slog.Uint64("u", 1), slog.Any("err", context.Canceled),
		} {
			if _, ok := fast(json, tm, slog.LevelInfo, "auth request", []slog.Attr{a}); ok {
				t.Fatalf("json=%v: kind %v accepted", json, a.Value.Kind())
			}
		}
		if _, ok := fast(json, time.Time{}, slog.LevelInfo, "m", nil); ok {
			t.Fatal("zero time accepted")
		}
	}
	if _, ok := fast(true, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), slog.LevelInfo, "m", nil); ok {
		t.Fatal("year 10000 accepted in JSON")
	}
}

// TestFastLineLevelAndOptions: below the level nothing is written; with
// ReplaceAttr (which WriteLine cannot apply) it always declines; a logger
// derived with With is slog's own handler.
func TestFastLineLevelAndOptions(t *testing.T) {
	var buf bytes.Buffer
	lv := &slog.LevelVar{}
	lv.Set(slog.LevelWarn)
	h := Wrap(&buf, false, &slog.HandlerOptions{Level: lv})
	if h.WriteLine(testTimes[0], slog.LevelInfo, "m", nil) || buf.Len() != 0 {
		t.Fatal("info written at warn")
	}
	lv.Set(slog.LevelInfo)
	if !h.WriteLine(testTimes[0], slog.LevelInfo, "m", nil) {
		t.Fatal("info declined after the level was lowered")
	}
	rep := Wrap(&buf, false, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr { return a }})
	if rep.WriteLine(testTimes[0], slog.LevelInfo, "m", nil) {
		t.Fatal("ReplaceAttr handler accepted a fast line")
	}
	derived := slog.New(h).With("component", "x").Handler()
	if _, ok := derived.(LineWriter); ok {
		t.Fatal("a With logger kept the fast path (it would drop component=x)")
	}
}

// TestFastAndSlogLinesDoNotInterleave: fast lines and slog's own lines from
// many goroutines reach the writer whole (run with -race).
func TestFastAndSlogLinesDoNotInterleave(t *testing.T) {
	var buf bytes.Buffer
	h := Wrap(&buf, false, nil)
	logger := slog.New(h)
	done := make(chan struct{})
	for g := range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 200 {
				if g%2 == 0 {
					h.WriteLine(time.Now(), slog.LevelInfo, "auth request", []slog.Attr{slog.Int("i", i)})
				} else {
					logger.Info("other line", "i", i)
				}
			}
		}()
	}
	for range 8 {
		<-done
	}
	lines := bytes.Split(bytes.TrimSuffix(buf.Bytes(), []byte("\n")), []byte("\n"))
	if len(lines) != 1600 {
		t.Fatalf("%d lines", len(lines))
	}
	for _, l := range lines {
		if !bytes.HasPrefix(l, []byte("time=")) || bytes.Count(l, []byte("time=")) != 1 {
			t.Fatalf("mangled line %q", l)
		}
	}
}
