package lua

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Bug: every failed KILL QUERY logged a WARN line. A database that refuses
// them (max_user_connections reached, a proxy that cannot kill) during a
// storm of timeouts wrote one line per abandoned query. A DSN's pool now
// logs one line per dbKillWarnEvery, which says how many it held back.
func TestDBKillFailuresWarnOncePerIntervalAndDSN(t *testing.T) {
	now := time.Date(2026, 12, 4, 20, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	refused := &killRecorder{execErr: &mysql.MySQLError{Number: 1095, Message: "You are not owner of thread; " + dbTestSecret}}
	p, _, logs := fakeKillPool(t, dbMaxKills, refused)
	p.killWarn.now = clock
	kill := func(p *dbPool, id uint64) {
		p.killQuery(id)
		p.killer.wait()
	}
	for id := range uint64(5) {
		kill(p, id+1)
	}
	if n := strings.Count(logs.String(), "KILL QUERY of an abandoned query failed"); n != 1 {
		t.Fatalf("%d WARN lines for 5 failed KILLs in one interval, want 1:\n%s", n, logs)
	}
	if !strings.Contains(logs.String(), "thread_id=1 ") || !strings.Contains(logs.String(), "suppressed=0") {
		t.Errorf("the first failure is not the one logged:\n%s", logs)
	}
	if got := p.killer.count(killError); got != 5 {
		t.Errorf("error counted %d times, want every failure counted", got)
	}

	// Not yet an interval later: still held back.
	now = now.Add(dbKillWarnEvery - time.Second)
	kill(p, 6)
	if n := strings.Count(logs.String(), "KILL QUERY of an abandoned query failed"); n != 1 {
		t.Fatalf("%d WARN lines before the interval passed, want 1:\n%s", n, logs)
	}

	// An interval after the last line: one more, counting the 5 held back.
	now = now.Add(time.Second)
	kill(p, 7)
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	last := lines[len(lines)-1]
	if len(lines) != 2 || !strings.Contains(last, "thread_id=7 ") || !strings.Contains(last, "suppressed=5") {
		t.Errorf("want a second line for thread 7 with suppressed=5:\n%s", logs)
	}

	// Another DSN's pool has its own interval.
	other, _, otherLogs := fakeKillPool(t, dbMaxKills, refused)
	other.killWarn.now = clock
	kill(other, 8)
	if !strings.Contains(otherLogs.String(), "thread_id=8 ") {
		t.Errorf("another DSN's first failure was held back:\n%s", otherLogs)
	}

	for _, text := range []string{logs.String(), otherLogs.String()} {
		if strings.Contains(text, dbTestSecret) {
			t.Errorf("the password is in the log:\n%s", text)
		}
	}
}

// A KILL that finds its thread gone or succeeds logs nothing and leaves
// the interval alone: the next failure is logged at once.
func TestDBKillWarnIntervalStartsWithAFailure(t *testing.T) {
	kills := &killRecorder{}
	p, _, logs := fakeKillPool(t, dbMaxKills, kills)
	p.killWarn.now = func() time.Time { return time.Date(2026, 12, 4, 20, 0, 0, 0, time.UTC) }
	p.killQuery(1)
	p.killer.wait()
	kills.execErr = errors.New("connection refused")
	p.killQuery(2)
	p.killer.wait()
	if !strings.Contains(logs.String(), "thread_id=2 ") {
		t.Errorf("the first failure was held back:\n%s", logs)
	}
}
