package state

import (
	"testing"
	"time"
)

// FuzzParseUptimeValue: whatever a Redis value holds, the parser returns a
// bucket that fits its span or an error, never a panic; what it accepts
// formats back to the same numbers.
func FuzzParseUptimeValue(f *testing.F) {
	for _, seed := range []string{"0:0", "60000:0", "59999:1", "1:2:3", "", ":", "-1:5", "4294967296:0",
		"99999999999999999999:0", " 1:1", "1:1\n", "\x00:1", "3600000:0"} {
		f.Add(seed, true)
	}
	f.Fuzz(func(t *testing.T, v string, minute bool) {
		span := time.Hour
		if minute {
			span = time.Minute
		}
		up, down, err := parseUptimeValue(v, span)
		if err != nil {
			return
		}
		b := UptimeBucket{Start: time.Unix(3600, 0), Span: span, Up: up, Down: down}
		if checkUptimeBucket("x", b) != nil {
			t.Fatalf("%q parsed to %v+%v, not a valid %v bucket", v, up, down, span)
		}
		up2, down2, err := parseUptimeValue(formatUptimeValue(b), span)
		if err != nil || up2 != up || down2 != down {
			t.Fatalf("%q: round trip %v+%v -> %v+%v (%v)", v, up, down, up2, down2, err)
		}
	})
}
