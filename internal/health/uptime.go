package health

import (
	"sync"
	"time"

	"github.com/backline/backline/internal/state"
)

// Uptime is measured in time, not in checks: each check's verdict stands
// for the time until the next check, so fast re-checks while a gate counts
// toward a flip (many checks in a bad minute) do not weigh the bad minute
// more. The time between two checks is filed under the verdict in force
// during it, the one the earlier check led to, up to the backend's stale
// time (staleAfter; longer on the down schedule, uptimeMaxGap): past it
// the backend counts as unchecked (a daemon that was stopped, checks
// paused), in neither up nor down. The ratio of a window is
// up / (up + down).
//
// Each backend keeps a ring of 61 minute cells (the hour window and the
// minute partly in it) and 169 hour cells (the week and the hour partly in
// it), 12 bytes each: with the rest of the ring about 2.9 KB per backend
// whatever the check interval (TestUptimeSize), and no allocation per
// check (BenchmarkUptimeNote: about 40 ns). Windows end at the
// newest check; the oldest cell a window reaches into partly counts with
// the share of it inside the window. Cells go to the state store every
// UptimeSaveEvery and come back from it when a backend appears (start,
// reload), so a restart on Redis keeps the week (state.UptimeStore).

// Ring lengths: a window of n cells reaches into one more.
const (
	uptimeMinuteCells = 61
	uptimeHourCells   = 7*24 + 1
)

// uptimeCell is one minute's or hour's checked time, milliseconds.
type uptimeCell struct {
	slot     int32 // Unix minute or hour; 0 = never used
	up, down uint32
}

// uptimeRing is one backend's uptime. Its group's loop writes it; the
// engine's uptime keeper saves and loads it: mu is held for each, never
// long.
type uptimeRing struct {
	mu      sync.Mutex
	minutes [uptimeMinuteCells]uptimeCell
	hours   [uptimeHourCells]uptimeCell
	// last is the newest check; lastUp the verdict it led to, in force
	// until the next check.
	last   time.Time
	lastUp bool
	// ref is where windows end: the newest check, or when buckets were
	// loaded if that is later.
	ref time.Time
	// dirtyMinute and dirtyHour are the oldest slots changed since the
	// keeper last collected; 0: none.
	dirtyMinute, dirtyHour int32
	// loadedAs is the backend ID the store's buckets were loaded for;
	// another ID (new backend, renamed) means load (again).
	loadedAs string
	// cached is summary's result until the ring changes.
	cached      UptimeSummary
	cachedValid bool
}

// UptimeWindow is a backend's uptime over one window.
type UptimeWindow struct {
	// Ratio is up / (up + down) over the window; 0 and meaningless when
	// Checked is 0.
	Ratio float64
	// Checked is up + down: how much of the window the ratio covers; 0
	// when nothing in the window was checked (no data, not 0 %).
	Checked time.Duration
}

// UptimeSummary is the uptime over the windows the status page, the API
// and the metrics show.
type UptimeSummary struct {
	Hour, Day, Week UptimeWindow
}

// UptimeWindows names the windows, in the order of UptimeSummary's
// fields, as the API and the metric label write them.
var UptimeWindows = [3]string{"1h", "24h", "7d"}

// Windows returns the summary's windows in UptimeWindows order.
func (u UptimeSummary) Windows() [3]UptimeWindow { return [3]UptimeWindow{u.Hour, u.Day, u.Week} }

// note records a check at now whose verdict is healthy: the time since the
// previous check goes to the previous verdict, at most maxGap of it.
func (r *uptimeRing) note(now time.Time, healthy bool, maxGap time.Duration) {
	// The rings file by the wall clock (UnixMilli), so every comparison
	// here is by the wall clock too: time.Now's monotonic reading would
	// make a step back look later (a reversed interval) and a step
	// forward look short (hours past maxGap filed).
	now = now.Round(0)
	r.mu.Lock()
	defer r.mu.Unlock()
	if now.Unix() < 3600 {
		return // a test clock near the epoch: slot 0 means "never used"
	}
	if !r.last.IsZero() && now.After(r.last) {
		end := now
		if maxGap > 0 && end.Sub(r.last) > maxGap {
			end = r.last.Add(maxGap) // stale after that: unchecked
		}
		r.add(r.last.UnixMilli(), end.UnixMilli(), r.lastUp)
	}
	if now.After(r.last) {
		r.last = now // a clock stepping back files nothing and keeps last
	}
	r.ref = later(r.ref, r.last)
	r.lastUp = healthy
	r.cachedValid = false
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// add files [from, to) (Unix ms) under up or down in both rings.
func (r *uptimeRing) add(from, to int64, up bool) {
	addCells(r.minutes[:], 60_000, from, to, up, &r.dirtyMinute)
	addCells(r.hours[:], 3_600_000, from, to, up, &r.dirtyHour)
}

// addCells adds [from, to) to the cells of span ms it overlaps that the
// ring still holds. A cell never holds more than its span: time filed
// twice (a clock that jumped) is dropped.
func addCells(cells []uptimeCell, span, from, to int64, up bool, dirty *int32) {
	n := int64(len(cells))
	from = max(from, (to/span-n+1)*span) // older cells are gone anyway
	if to <= from {
		return // nothing to file (a negative part would wrap the uint32 cells)
	}
	for s := from / span; s*span < to; s++ {
		part := min(to, (s+1)*span) - max(from, s*span)
		c := &cells[s%n]
		switch {
		case c.slot > int32(s):
			continue // the ring has moved past it
		case c.slot < int32(s):
			*c = uptimeCell{slot: int32(s)}
		}
		room := int64(span) - int64(c.up) - int64(c.down)
		d := uint32(min(part, room))
		if up {
			c.up += d
		} else {
			c.down += d
		}
		if *dirty == 0 || int32(s) < *dirty {
			*dirty = int32(s)
		}
	}
}

// summary returns the windows ending at the ring's reference time.
func (r *uptimeRing) summary() UptimeSummary {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cachedValid {
		return r.cached
	}
	var s UptimeSummary
	if !r.ref.IsZero() {
		ref := r.ref.UnixMilli()
		hour := newWindowSum(ref, time.Hour, 60_000)
		day := newWindowSum(ref, 24*time.Hour, 3_600_000)
		week := newWindowSum(ref, 7*24*time.Hour, 3_600_000)
		for slot := max(hour.first, 1); slot <= ref/60_000; slot++ { // slot 0: never used
			if c := r.minutes[slot%uptimeMinuteCells]; c.slot == int32(slot) {
				hour.add(slot, c)
			}
		}
		// One pass over the hours serves the day and the week.
		for slot := max(week.first, 1); slot <= ref/3_600_000; slot++ {
			if c := r.hours[slot%uptimeHourCells]; c.slot == int32(slot) {
				week.add(slot, c)
				if slot >= day.first {
					day.add(slot, c)
				}
			}
		}
		s.Hour, s.Day, s.Week = hour.window(), day.window(), week.window()
	}
	r.cached, r.cachedValid = s, true
	return s
}

// windowSum adds up the cells of one window: whole cells in integer
// milliseconds, the oldest cell, partly inside, by its share.
type windowSum struct {
	from, span, first int64 // window start (Unix ms), cell span (ms), first slot
	up, checked       int64
	partUp, partAll   float64
}

func newWindowSum(ref int64, length time.Duration, span int64) windowSum {
	from := ref - length.Milliseconds()
	return windowSum{from: from, span: span, first: from / span}
}

func (w *windowSum) add(slot int64, c uptimeCell) {
	if start := slot * w.span; start < w.from {
		share := float64(start+w.span-w.from) / float64(w.span)
		w.partUp += share * float64(c.up)
		w.partAll += share * float64(c.up+c.down)
		return
	}
	w.up += int64(c.up)
	w.checked += int64(c.up + c.down)
}

func (w *windowSum) window() UptimeWindow {
	checked := float64(w.checked) + w.partAll
	out := UptimeWindow{Checked: time.Duration(checked) * time.Millisecond}
	if out.Checked > 0 {
		out.Ratio = min((float64(w.up)+w.partUp)/checked, 1)
	}
	return out
}

// uptimeDirty is what collect took, for redirty after a failed save.
type uptimeDirty struct{ minute, hour int32 }

// collect appends the cells changed since the last collect as buckets and
// marks them clean.
func (r *uptimeRing) collect(buf []state.UptimeBucket) ([]state.UptimeBucket, uptimeDirty) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := uptimeDirty{r.dirtyMinute, r.dirtyHour}
	buf = appendCells(buf, r.minutes[:], time.Minute, d.minute)
	buf = appendCells(buf, r.hours[:], time.Hour, d.hour)
	r.dirtyMinute, r.dirtyHour = 0, 0
	return buf, d
}

func appendCells(buf []state.UptimeBucket, cells []uptimeCell, span time.Duration, from int32) []state.UptimeBucket {
	if from == 0 {
		return buf
	}
	for _, c := range cells {
		if c.slot >= from && c.up+c.down > 0 {
			buf = append(buf, state.UptimeBucket{Start: time.Unix(int64(c.slot)*int64(span/time.Second), 0).UTC(),
				Span: span, Up: time.Duration(c.up) * time.Millisecond, Down: time.Duration(c.down) * time.Millisecond})
		}
	}
	return buf
}

// redirty marks what a failed save took as changed again.
func (r *uptimeRing) redirty(d uptimeDirty) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dirtyMinute = minSlot(r.dirtyMinute, d.minute)
	r.dirtyHour = minSlot(r.dirtyHour, d.hour)
}

// minSlot is the older of two dirty marks, 0 being none.
func minSlot(a, b int32) int32 {
	if a == 0 || (b != 0 && b < a) {
		return b
	}
	return a
}

// merge takes the store's buckets for id where they have more checked time
// than the ring's cell (the ring went on counting from what it loaded,
// and an instance that just started has less), then marks the cells it
// kept of its own changed, so what the ring held before is saved under id
// too (a renamed backend's history moves to its new ID).
func (r *uptimeRing) merge(id string, buckets []state.UptimeBucket, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.loadedAs = id
	// Which cells now hold the store's view: those need not go back.
	var loadedMinutes [uptimeMinuteCells]bool
	var loadedHours [uptimeHourCells]bool
	for _, b := range buckets {
		cells, span, loaded := r.minutes[:], int64(60), loadedMinutes[:]
		if b.Span == time.Hour {
			cells, span, loaded = r.hours[:], 3600, loadedHours[:]
		}
		s := b.Start.Unix() / span
		n := int64(len(cells))
		if s <= now.Unix()/span-n || s > now.Unix()/span+1 || s <= 0 {
			continue // outside the ring (the store checked retention)
		}
		c := &cells[s%n]
		up, down := uint32(b.Up.Milliseconds()), uint32(b.Down.Milliseconds())
		if c.slot < int32(s) || (c.slot == int32(s) && up+down > c.up+c.down) {
			*c = uptimeCell{slot: int32(s), up: up, down: down}
			loaded[s%n] = true
			r.ref = later(r.ref, now)
		}
	}
	// The ring's own cells (counted before the load, or under another
	// ID) are saved under id. Only those: sending a restarted instance's
	// whole loaded week back (about 230 script calls per backend in one
	// save) would be work for nothing, and at thousands of backends more
	// than one save's timeout.
	r.dirtyMinute = minSlot(r.dirtyMinute, oldestOwn(r.minutes[:], loadedMinutes[:]))
	r.dirtyHour = minSlot(r.dirtyHour, oldestOwn(r.hours[:], loadedHours[:]))
	r.cachedValid = false
}

// oldestOwn is the oldest slot of a cell with checked time that merge did
// not take from the store; 0: none.
func oldestOwn(cells []uptimeCell, loaded []bool) int32 {
	var oldest int32
	for i, c := range cells {
		if c.slot != 0 && c.up+c.down > 0 && !loaded[i] {
			oldest = minSlot(oldest, c.slot)
		}
	}
	return oldest
}

// needsLoad reports whether the store has not been asked for id's buckets.
func (r *uptimeRing) needsLoad(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.loadedAs != id
}

// noteUptime records a check in the target's uptime: called after the
// gates moved, with the verdict the check led to.
func (s *targetState) noteUptime(now time.Time) {
	s.uptime.note(now, s.healthy, s.uptimeMaxGap())
}

// uptimeMaxGap is how long a gap since the last check still counts as
// checked: the stale time, which is three of the group's intervals (plus
// timeouts). A backend on the down schedule was probed down_interval
// (plus jitter) apart meanwhile (downScheduled is still the schedule the
// last result set; planFast runs after this): three of those, or an
// outage with a down_interval past the stale time counts for a fraction
// of its length.
func (s *targetState) uptimeMaxGap() time.Duration {
	gap := s.staleAfter
	if gap <= 0 || !s.downScheduled || s.loop == nil {
		return gap
	}
	g := &s.loop.group
	if d, longest := g.DownInterval+g.Jitter, max(g.ConnectInterval, g.DeepInterval); d > longest {
		gap += 3 * (d - longest) // as staleAfter counts three intervals
	}
	return gap
}
