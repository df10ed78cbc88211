package state

import (
	"context"
	"time"
)

// AdminWatcher follows an AdminStore for changes other instances make: each
// Poll reads the revision and, when it moved, the whole list. It reports
// the store going down and coming back once per transition, so the caller
// can log once and keep its local state meanwhile.
type AdminWatcher struct {
	Store AdminStore
	// Apply receives the full list after each change (and after the first
	// successful poll).
	Apply func([]AdminEntry)
	// Status hears a non-nil error when polling starts failing and nil
	// when it works again (also after the first successful poll).
	Status func(err error)

	polled bool
	rev    uint64
	failed bool
}

// Poll does one round; Run calls it on a ticker. It is not safe to call
// from several goroutines at once.
func (w *AdminWatcher) Poll(ctx context.Context) {
	rev, err := w.Store.Revision(ctx)
	if err == nil && (!w.polled || rev != w.rev) {
		var list []AdminEntry
		if list, err = w.Store.List(ctx); err == nil {
			w.Apply(list)
			w.rev = rev
		}
	}
	if err != nil {
		if !w.failed && w.Status != nil {
			w.Status(err)
		}
		w.failed = true
		return
	}
	if (w.failed || !w.polled) && w.Status != nil {
		w.Status(nil)
	}
	w.failed, w.polled = false, true
}

// Run polls every interval until ctx ends. A second of interval meets
// issue 11's "seen by all within one second" with room to spare at 500ms.
func (w *AdminWatcher) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		w.Poll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
