// Package state holds what several backline instances share: admin
// overrides today; user affinity, probe leases, the auth cache and
// throttles later (issue 11). Each piece is a small interface owned here,
// with a memory implementation (one instance, today's behaviour) and a
// Redis one (storage.redis), and both pass the same behavioural suite.
//
// The package knows nothing of health or the API: an admin entry carries
// its override as an opaque JSON object that internal/health encodes.
package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// AdminEntry is one backend's admin override (drain, maint, weight, forced
// health) as instances share it.
type AdminEntry struct {
	// ID is the backend ID the override applies to, 1..MaxIDLen bytes.
	ID string
	// Record is the override, a JSON object of at most MaxRecordSize bytes.
	// Stores keep it as compact JSON.
	Record json.RawMessage
	// Until is when the override ends; zero means until it is deleted.
	// Stores drop the entry then (Redis through the key's expiry).
	Until time.Time
}

// AdminStore keeps admin entries by backend ID. Every method is safe for
// concurrent use; errors are about the store (Redis unreachable, say) or
// ErrInvalid for an entry that cannot be stored.
type AdminStore interface {
	// Get returns the live entry for id; ok is false when there is none
	// (or it has expired).
	Get(ctx context.Context, id string) (e AdminEntry, ok bool, err error)
	// Set stores e, replacing any entry of the same ID. An e whose Until
	// has passed deletes the entry: the latest write wins, and it says gone.
	Set(ctx context.Context, e AdminEntry) error
	// Delete removes the entry for id; deleting a missing entry is no error.
	Delete(ctx context.Context, id string) error
	// List returns every live entry sorted by ID. Entries another writer
	// left unreadable are skipped (see the store's OnCorrupt).
	List(ctx context.Context) ([]AdminEntry, error)
	// Revision changes whenever Set or Delete changed the entries, so a
	// poller lists only after a change. Expiry does not change it: readers
	// drop entries past Until themselves. Compare for equality only (a
	// restarted Redis starts again from 0).
	Revision(ctx context.Context) (uint64, error)
}

// Limits on what an entry may hold; a store refuses larger ones and skips
// larger ones it reads.
const (
	MaxIDLen      = 1024
	MaxRecordSize = 16 << 10
)

// ErrInvalid is returned (wrapped) for an entry that cannot be stored.
var ErrInvalid = errors.New("invalid admin entry")

// checkID validates a backend ID.
func checkID(id string) error {
	if id == "" || len(id) > MaxIDLen {
		return fmt.Errorf("%w: id must be 1..%d bytes, got %d", ErrInvalid, MaxIDLen, len(id))
	}
	return nil
}

// checkEntry validates e before it is stored.
func checkEntry(e AdminEntry) error {
	if err := checkID(e.ID); err != nil {
		return err
	}
	if len(e.Record) > MaxRecordSize {
		return fmt.Errorf("%w: backend %q: record is %d bytes, at most %d", ErrInvalid, e.ID, len(e.Record), MaxRecordSize)
	}
	if !isJSONObject(e.Record) {
		return fmt.Errorf("%w: backend %q: record must be a JSON object", ErrInvalid, e.ID)
	}
	return nil
}

func isJSONObject(b []byte) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal(b, &m) == nil && m != nil
}

// expired reports whether an entry with this Until is gone at now.
func expired(until, now time.Time) bool {
	return !until.IsZero() && !now.Before(until)
}

// clone copies e so callers cannot change a stored record through it.
func clone(e AdminEntry) AdminEntry {
	e.Record = append(json.RawMessage(nil), e.Record...)
	return e
}
