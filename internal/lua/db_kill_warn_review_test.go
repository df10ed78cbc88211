package lua

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Concurrent failures (KILL goroutines of one pool run at once) are each
// either logged or held back and reported by a later line: none is lost
// or counted twice. Run with -race.
func TestReviewKillWarnLimiterConcurrentCallsConserveCount(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 12, 4, 20, 0, 0, 0, time.UTC)
	w := &warnLimiter{now: func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(time.Millisecond)
		return now
	}}
	var passed, reported atomic.Int64
	var wg sync.WaitGroup
	const goroutines, each = 8, 20000
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if ok, held := w.allow(); ok {
					passed.Add(1)
					reported.Add(held)
				}
			}
		}()
	}
	wg.Wait()
	w.mu.Lock()
	left := w.held
	w.mu.Unlock()
	if total := passed.Load() + reported.Load() + left; total != goroutines*each {
		t.Errorf("logged %d + reported held %d + still held %d = %d, want %d", passed.Load(), reported.Load(), left, total, goroutines*each)
	}
	// 160000 calls 1 ms apart span 160 s: at most 3 lines.
	if p := passed.Load(); p < 2 || p > 3 {
		t.Errorf("%d lines in 160 s of failures, want one a minute", p)
	}
}

// Failed KILLs of one pool racing on the limiter and the logger; the
// password never reaches the lines.
func TestReviewKillWarnConcurrentKillsOfOnePool(t *testing.T) {
	refused := &killRecorder{execErr: &mysql.MySQLError{Number: 1095, Message: "You are not owner of thread; " + dbTestSecret}}
	p, _, logs := fakeKillPool(t, dbMaxKills, refused)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.killQuery(uint64(i + 1))
		}()
	}
	wg.Wait()
	p.killer.wait()
	text := logs.String()
	if strings.Contains(text, dbTestSecret) {
		t.Errorf("the password is logged:\n%s", text)
	}
	if n := strings.Count(text, "KILL QUERY of an abandoned query failed"); n != 1 {
		t.Errorf("%d lines for one burst, want 1:\n%s", n, text)
	}
}
