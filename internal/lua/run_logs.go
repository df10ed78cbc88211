package lua

import (
	"fmt"
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

// logDroppedKey is the entry counting what was dropped past the limit.
const logDroppedKey = "log_fields_dropped"

// addLog records one entry: key and string value redacted first (so a cut
// can never leave part of a password), then cut to their bounds.
func (r *scriptRun) addLog(key string, value any) {
	if len(r.logs) >= maxRunLogFields {
		if last := &r.logs[len(r.logs)-1]; len(r.logs) > maxRunLogFields && last.Key == logDroppedKey {
			last.Value = last.Value.(float64) + 1
		} else {
			r.logs = append(r.logs, LogField{Key: logDroppedKey, Value: float64(1)})
		}
		return
	}
	if s, ok := value.(string); ok {
		value = cutLogText(r.redact(s), maxLogValueText)
	}
	r.logs = append(r.logs, LogField{Key: cutLogText(r.redact(key), maxLogKeyBytes), Value: value})
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
