package health

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/backline/backline/internal/safefile"
)

// AdminRecord is one backend's override as the state file keeps it.
type AdminRecord struct {
	ID           string       `json:"id"`
	State        AdminState   `json:"state,omitempty"`
	Weight       *int         `json:"weight,omitempty"`
	Health       ForcedHealth `json:"health,omitempty"`
	ChecksPaused bool         `json:"checks_paused,omitempty"`
	Who          string       `json:"who,omitempty"`
	Why          string       `json:"why,omitempty"`
	Since        time.Time    `json:"since"`
	Until        *time.Time   `json:"until,omitempty"`
}

// adminFileVersion is the state file's format version.
const adminFileVersion = 1

// maxAdminFile bounds what LoadAdminFile reads: 10,000 full records fit
// in well under 8 MiB.
const maxAdminFile = 8 << 20

// maxAdminIDLen bounds an ID read from the file.
const maxAdminIDLen = 1024

type adminFile struct {
	Version  int           `json:"version"`
	Backends []AdminRecord `json:"backends"`
}

// AdminRecords lists every current override sorted by ID, those of IDs the
// configuration does not know (any more) included, so a state file keeps
// them; expired ones are left out.
func (e *Engine) AdminRecords() []AdminRecord {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.adminRecordsLocked(e.now())
}

func (e *Engine) adminRecordsLocked(now time.Time) []AdminRecord {
	out := make([]AdminRecord, 0, len(e.admin))
	for id, o := range e.admin {
		if o.expired(now) {
			continue
		}
		r := AdminRecord{ID: id, State: o.state, Health: o.health, ChecksPaused: o.paused,
			Who: o.who, Why: o.why, Since: o.since.UTC()}
		if o.weightSet {
			w := o.weight
			r.Weight = &w
		}
		if !o.until.IsZero() {
			u := o.until.UTC()
			r.Until = &u
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b AdminRecord) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return out
}

// RestoreAdmin installs overrides read from a state file and publishes. It
// drops expired and invalid records (errs says why, one per record) and
// returns the IDs the configuration does not know: those are kept, so they
// are written back, but apply to nothing until a backend with that ID
// appears. Records replace existing overrides of the same ID.
func (e *Engine) RestoreAdmin(recs []AdminRecord) (unknown []string, errs []error) {
	e.mu.Lock()
	now := e.now()
	gen := e.gen.Load()
	for i, r := range recs {
		o, err := r.override()
		if err != nil {
			errs = append(errs, fmt.Errorf("record %d: %w", i, err))
			continue
		}
		if o.expired(now) {
			continue
		}
		e.admin[r.ID] = o
		if s := gen.byID[r.ID]; s != nil {
			s.paused.Store(o.paused)
		} else {
			unknown = append(unknown, r.ID)
		}
	}
	e.publishLocked(time.Time{})
	e.mu.Unlock()
	return unknown, errs
}

func (r *AdminRecord) override() (*override, error) {
	if r.ID == "" || len(r.ID) > maxAdminIDLen {
		return nil, fmt.Errorf("%w: id must be 1..%d bytes", ErrInvalidAdmin, maxAdminIDLen)
	}
	ch := AdminChange{Who: r.Who, Why: &r.Why}
	if r.State != "" {
		ch.State = &r.State
	}
	if r.Health != "" {
		ch.Health = &r.Health
	}
	ch.Weight = r.Weight
	if err := ch.validate(); err != nil {
		return nil, fmt.Errorf("backend %q: %w", r.ID, err)
	}
	o := &override{state: r.State, health: r.Health, paused: r.ChecksPaused, who: r.Who, why: r.Why, since: r.Since}
	if r.Weight != nil {
		o.weight, o.weightSet = *r.Weight, true
	}
	if r.Until != nil {
		o.until = *r.Until
	}
	return o, nil
}

// SaveAdminFile writes recs to path atomically: a temporary file in the same
// directory, mode 0600, synced, then renamed over path.
func SaveAdminFile(path string, recs []AdminRecord) error {
	if recs == nil {
		recs = []AdminRecord{}
	}
	data, err := json.MarshalIndent(adminFile{Version: adminFileVersion, Backends: recs}, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	name := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(name)
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	if err := os.Rename(name, path); err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // the rename itself survives a crash
		d.Close()
	}
	return nil
}

// LoadAdminFile reads a state file; a missing file is no records and no
// error. A file that is not a regular file, too large, or not a valid state
// file is an error (the caller starts without it).
func LoadAdminFile(path string) ([]AdminRecord, error) {
	// A FIFO (or a device) here would block or feed the daemon's start:
	// judged before and after an open that does not wait.
	errNotRegular := fmt.Errorf("state file %s is not a regular file", path)
	f, _, err := safefile.Open(path, func(st fs.FileInfo) error {
		if !st.Mode().IsRegular() {
			return errNotRegular
		}
		return nil
	})
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err == errNotRegular {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("state file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxAdminFile+1))
	if err != nil {
		return nil, fmt.Errorf("state file: %w", err)
	}
	if len(data) > maxAdminFile {
		return nil, fmt.Errorf("state file %s is larger than %d bytes", path, maxAdminFile)
	}
	var af adminFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&af); err != nil {
		return nil, fmt.Errorf("state file %s is corrupt: %w", path, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("state file %s is corrupt: data after the object", path)
	}
	if af.Version != adminFileVersion {
		return nil, fmt.Errorf("state file %s has version %d, this backline reads %d", path, af.Version, adminFileVersion)
	}
	return af.Backends, nil
}
