package lua

import (
	"sync"
	"time"
)

// dbKillWarnEvery is how often a DSN's pool logs a failed KILL QUERY. A
// database that refuses KILLs (its user's max_user_connections reached,
// a proxy that cannot kill) during a storm of timeouts fails one per
// abandoned query; backline_lua_db_killed_queries_total{result="error"}
// counts each of them, the log says it once a minute with the number it
// held back.
const dbKillWarnEvery = time.Minute

// warnLimiter lets one log line through per interval. The zero value lets
// one through every dbKillWarnEvery, on the wall clock.
type warnLimiter struct {
	now func() time.Time // nil: time.Now; tests set a clock

	mu     sync.Mutex
	last   time.Time // when the last line went through; zero: never
	passed bool
	held   int64
}

// allow reports whether a line may be logged now and, if so, how many
// were held back since the last one.
func (w *warnLimiter) allow() (ok bool, held int64) {
	now := time.Now
	if w.now != nil {
		now = w.now
	}
	t := now()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.passed && t.Sub(w.last) < dbKillWarnEvery {
		w.held++
		return false, 0
	}
	held, w.held = w.held, 0
	w.last, w.passed = t, true
	return true, held
}
