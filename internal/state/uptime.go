package state

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// UptimeStore keeps each backend's uptime history: per backend ID, how
// long it was checked and judged healthy (Up) or not (Down) in each minute
// of the last hours and each hour of the last week. The health engine
// counts locally and saves the buckets it changed every little while; it
// loads a backend's buckets when the backend appears (start, reload), so
// the history outlives a restart with a store that does (Redis).
//
// Several instances checking the same backends save their own view of the
// same buckets. A bucket is never added to: Save keeps, per bucket, the
// view with the most checked time (Up+Down) and drops the other, so two
// instances never double count a minute, and an instance that loaded a
// bucket and went on counting replaces what it loaded. Every method is
// safe for concurrent use.
type UptimeStore interface {
	// Save merges each record's buckets as described above. Buckets past
	// their retention are skipped; a bucket that is not valid (see
	// UptimeBucket) is ErrInvalid, and nothing of that call is stored.
	Save(ctx context.Context, records []UptimeRecord) error
	// Load returns the live buckets of each of ids, in no order. IDs
	// without any are absent. Buckets another writer left unreadable are
	// skipped (see the store's OnCorrupt).
	Load(ctx context.Context, ids []string) (map[string][]UptimeBucket, error)
}

// UptimeRecord is one backend's buckets handed to Save.
type UptimeRecord struct {
	ID      string
	Buckets []UptimeBucket
}

// UptimeBucket is the checked time of one backend in one minute or hour.
type UptimeBucket struct {
	// Start is the bucket's start: a whole multiple of Span since the Unix
	// epoch.
	Start time.Time
	// Span is time.Minute or time.Hour.
	Span time.Duration
	// Up and Down are how long the backend was judged healthy and not
	// within the bucket, whole milliseconds, Up+Down <= Span. Time nobody
	// checked (the daemon stopped, checks paused) is in neither.
	Up, Down time.Duration
}

// Checked is the time the bucket accounts for.
func (b UptimeBucket) Checked() time.Duration { return b.Up + b.Down }

// Retention: a bucket is kept until this long after its start. Minutes
// serve the one-hour window, hours the day and the week; each keeps an
// hour more than its longest window needs, so a restart within it loses
// nothing.
const (
	UptimeMinutesKept = 2 * time.Hour
	UptimeHoursKept   = 7*24*time.Hour + 2*time.Hour
)

// maxUptimeValue bounds a stored bucket value ("<up ms>:<down ms>");
// longer ones are corrupt.
const maxUptimeValue = 32

// ErrCorruptUptime is what OnCorrupt hears for a stored bucket value that
// is not one this package writes.
var ErrCorruptUptime = errors.New("corrupt uptime bucket")

// uptimeKept is the retention of a bucket of span.
func uptimeKept(span time.Duration) time.Duration {
	if span == time.Minute {
		return UptimeMinutesKept
	}
	return UptimeHoursKept
}

// checkUptimeBucket validates a bucket before it is stored.
func checkUptimeBucket(id string, b UptimeBucket) error {
	if b.Span != time.Minute && b.Span != time.Hour {
		return fmt.Errorf("%w: backend %q: uptime bucket span %v, want 1m or 1h", ErrInvalid, id, b.Span)
	}
	if b.Start.UnixMilli()%b.Span.Milliseconds() != 0 || b.Start.Unix() <= 0 {
		return fmt.Errorf("%w: backend %q: uptime bucket start %v is not a whole %v", ErrInvalid, id, b.Start, b.Span)
	}
	if b.Up < 0 || b.Down < 0 || b.Up+b.Down > b.Span || b.Up%time.Millisecond != 0 || b.Down%time.Millisecond != 0 {
		return fmt.Errorf("%w: backend %q: uptime bucket %v+%v does not fit %v in whole milliseconds", ErrInvalid, id, b.Up, b.Down, b.Span)
	}
	return nil
}

// uptimeLive reports whether a bucket is within its retention at now and
// not from the future (a minute of slack for clocks a little apart).
func uptimeLive(b UptimeBucket, now time.Time) bool {
	return now.Before(b.Start.Add(uptimeKept(b.Span))) && !b.Start.After(now.Add(time.Minute))
}

// formatUptimeValue and parseUptimeValue are a bucket's stored value.
func formatUptimeValue(b UptimeBucket) string {
	return strconv.FormatInt(b.Up.Milliseconds(), 10) + ":" + strconv.FormatInt(b.Down.Milliseconds(), 10)
}

func parseUptimeValue(v string, span time.Duration) (up, down time.Duration, err error) {
	if len(v) > maxUptimeValue {
		return 0, 0, fmt.Errorf("%w: %d bytes, at most %d", ErrCorruptUptime, len(v), maxUptimeValue)
	}
	u, d, ok := strings.Cut(v, ":")
	if !ok {
		return 0, 0, fmt.Errorf("%w: %q", ErrCorruptUptime, v)
	}
	um, err1 := strconv.ParseUint(u, 10, 32)
	dm, err2 := strconv.ParseUint(d, 10, 32)
	if err1 != nil || err2 != nil || time.Duration(um+dm)*time.Millisecond > span {
		return 0, 0, fmt.Errorf("%w: %q does not fit %v", ErrCorruptUptime, v, span)
	}
	return time.Duration(um) * time.Millisecond, time.Duration(dm) * time.Millisecond, nil
}

// checkUptimeRecords validates a Save's records.
func checkUptimeRecords(records []UptimeRecord) error {
	for _, r := range records {
		if err := checkID(r.ID); err != nil {
			return err
		}
		for _, b := range r.Buckets {
			if err := checkUptimeBucket(r.ID, b); err != nil {
				return err
			}
		}
	}
	return nil
}
