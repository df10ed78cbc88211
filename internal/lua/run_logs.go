package lua

import (
	"fmt"
	"slices"
	"strings"
)

// A run's custom_log_add entries are Go memory the Lua budget does not see,
// and each lands on the request's log line: a script calling it in a loop
// could grow the daemon's heap until its timeout and write megabytes per
// request. Nauthilus has no bound; backline keeps the first entries, each
// cut to a size a log line can carry, and says how many it dropped.
const (
	maxRunLogFields = 64
	maxLogKeyBytes  = 64
	maxLogValueText = 1024
)

// LogFieldsDroppedKey is the entry counting what was dropped past the
// limit. The request log line adds up the counts of the runs it carries.
const LogFieldsDroppedKey = "log_fields_dropped"

// addLog records one entry: key and string value redacted first (so a cut
// can never leave part of a password), then cut to their bounds. A key
// the run added before keeps its place and takes the new value: the log
// line carries each key once (a JSON object with a key twice is read
// differently by each log shipper), and a script updating a value in a
// loop neither loses the later values nor uses up the entries. The scan
// is over at most maxRunLogFields keys.
func (r *scriptRun) addLog(key string, value any) {
	key = cutLogText(r.redact(key), maxLogKeyBytes)
	kept := r.logs[:min(len(r.logs), maxRunLogFields)]
	i := slices.IndexFunc(kept, func(f LogField) bool { return f.Key == key })
	if i < 0 && len(r.logs) >= maxRunLogFields {
		if last := &r.logs[len(r.logs)-1]; len(r.logs) > maxRunLogFields && last.Key == LogFieldsDroppedKey {
			last.Value = last.Value.(float64) + 1
		} else {
			r.logs = append(r.logs, LogField{Key: LogFieldsDroppedKey, Value: float64(1)})
		}
		return
	}
	if s, ok := value.(string); ok {
		value = cutLogText(r.redact(s), maxLogValueText)
	}
	if i >= 0 {
		r.logs[i].Value = value
		return
	}
	r.logs = append(r.logs, LogField{Key: key, Value: value})
}

// mergeLogFields appends the entries of a later run to dst by addLog's
// rule: a key already in dst keeps its place and takes the later value,
// and the runs' dropped counts add up.
func mergeLogFields(dst, src []LogField) []LogField {
	for _, f := range src {
		i := slices.IndexFunc(dst, func(d LogField) bool { return d.Key == f.Key })
		if i < 0 {
			dst = append(dst, f)
			continue
		}
		dst[i].Value = MergeLogValue(f.Key, dst[i].Value, f.Value)
	}
	return dst
}

// MergeLogValue is the value a key added twice keeps: the later one, or
// for LogFieldsDroppedKey the sum of two counts. Package auth applies it
// across the runs of one request.
func MergeLogValue(key string, earlier, later any) any {
	a, ok1 := earlier.(float64)
	b, ok2 := later.(float64)
	if key == LogFieldsDroppedKey && ok1 && ok2 {
		return a + b
	}
	return later
}

// cutLogText keeps at most max bytes of s, at a UTF-8 boundary, and says
// how much was cut.
func cutLogText(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && cut < len(s) && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return strings.ToValidUTF8(s[:cut], "") + fmt.Sprintf("…[%d bytes cut]", len(s)-cut)
}
