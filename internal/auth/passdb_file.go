package auth

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/backline/backline/internal/passwdfile"
)

// statInterval bounds how often a lookup stats the file for changes.
const statInterval = time.Second

// passwdFile is a Dovecot-format passwd-file, loaded at start and reloaded
// when its modification time or size changes.
type passwdFile struct {
	label  string
	path   string
	logger *slog.Logger
	now    func() time.Time
	// onReload runs after a changed file was loaded (the handler clears the
	// positive cache so removed users and changed passwords take effect).
	onReload func()

	data     atomic.Pointer[passwdData]
	lastStat atomic.Int64 // unix nanos of the last stat
	reload   sync.Mutex
}

type passwdData struct {
	modTime time.Time
	size    int64
	users   map[string]passwdEntry
}

type passwdEntry struct {
	password storedPassword
	// attributes are the extra fields (key=value) after the sixth colon.
	attributes Attributes
	// noPassword is Dovecot's "nopassword" extra field: any password passes.
	noPassword bool
	// broken holds why the password field cannot be used; the user is
	// known but can never log in.
	broken string
}

func newPasswdFile(label, path string, logger *slog.Logger) (*passwdFile, error) {
	f := &passwdFile{label: label, path: path, logger: logger, now: time.Now}
	d, err := loadPasswdFile(path, logger)
	if err != nil {
		return nil, err
	}
	f.data.Store(d)
	f.lastStat.Store(f.now().UnixNano())
	return f, nil
}

func (f *passwdFile) name() string { return f.label }

func (f *passwdFile) check(_ context.Context, req *Request) (passResult, error) {
	f.maybeReload()
	e, ok := f.data.Load().users[req.Username]
	res := passResult{DB: f.label, Backend: backendPlugin, AccountField: "account"}
	if !ok {
		return res, nil
	}
	res.UserFound = true
	res.Account = req.Username
	res.Attributes = e.attributes.clone()
	// Dovecot's "user" extra field renames the user for the backend login.
	if u := res.Attributes["user"]; len(u) == 1 {
		if s, ok := u[0].(string); ok && s != "" {
			res.Account = s
		}
	}
	// A userdb lookup (?mode=no-auth) asks only whether the user exists.
	if req.NoAuth {
		return res, nil
	}
	if e.broken != "" {
		f.logger.Warn("passwd-file entry unusable", "passdb", f.label, "user", req.Username, "error", e.broken)
		return res, nil
	}
	if e.noPassword {
		res.Authenticated = true
		return res, nil
	}
	ok, err := e.password.Verify(req.Password)
	if err != nil {
		f.logger.Warn("passwd-file hash unusable", "passdb", f.label, "user", req.Username, "error", err)
		return res, nil
	}
	res.Authenticated = ok
	return res, nil
}

// maybeReload stats the file at most once per statInterval and reloads it
// when it changed. A file that cannot be read keeps the last good copy.
func (f *passwdFile) maybeReload() {
	now := f.now().UnixNano()
	last := f.lastStat.Load()
	if now-last < int64(statInterval) || !f.lastStat.CompareAndSwap(last, now) {
		return
	}
	f.reload.Lock()
	defer f.reload.Unlock()
	st, err := os.Stat(f.path)
	if err != nil {
		f.logger.Error("passwd-file unreadable, keeping the last loaded copy", "passdb", f.label, "path", f.path, "error", err)
		return
	}
	cur := f.data.Load()
	if st.ModTime().Equal(cur.modTime) && st.Size() == cur.size {
		return
	}
	d, err := loadPasswdFile(f.path, f.logger)
	if err != nil {
		f.logger.Error("passwd-file reload failed, keeping the last loaded copy", "passdb", f.label, "path", f.path, "error", err)
		return
	}
	f.data.Store(d)
	if f.onReload != nil {
		f.onReload()
	}
	f.logger.Info("passwd-file reloaded", "passdb", f.label, "path", f.path, "users", len(d.users))
}

func loadPasswdFile(path string, logger *slog.Logger) (*passwdData, error) {
	f, err := passwdfile.Load(path)
	if err != nil {
		return nil, err
	}
	users := make(map[string]passwdEntry, len(f.Entries))
	for _, fe := range f.Entries {
		users[fe.User] = newPasswdEntry(fe, path, logger)
	}
	return &passwdData{modTime: f.ModTime, size: f.Size, users: users}, nil
}

// newPasswdEntry reads one line's password and extra fields. A broken
// password field keeps the user known (so no later database answers for
// them) but unusable, and is logged once per load without the hash.
func newPasswdEntry(fe passwdfile.Entry, path string, logger *slog.Logger) passwdEntry {
	var e passwdEntry
	if fe.HasExtra {
		e.attributes, e.noPassword = parseExtraFields(fe.Extra)
	}
	if e.noPassword {
		return e
	}
	sp, err := parseStoredPassword(fe.Password)
	if err != nil {
		e.broken = err.Error()
		if fe.Bare {
			// The line is all "user": it may be a hash on its own.
			logger.Warn("passwd-file: a line without a password field", "path", path, "line", fe.Line)
		} else {
			// By its line only: with a separator typed wrong ("bob {SHA512-CRYPT}$6$…::::::")
			// the hash is in the user field and this field is what follows.
			logger.Warn("passwd-file: unusable password field", "path", path, "line", fe.Line, "error", err)
		}
	}
	e.password = sp
	return e
}

// parseExtraFields reads Dovecot's space-separated key=value extra fields.
// userdb_ fields are kept under their plain name.
func parseExtraFields(s string) (Attributes, bool) {
	var attrs Attributes
	noPassword := false
	for f := range strings.FieldsSeq(s) {
		k, v, _ := strings.Cut(f, "=")
		if k == "nopassword" {
			noPassword = v == "" || v == "y" || v == "yes"
			continue
		}
		k = strings.TrimPrefix(k, "userdb_")
		if k == "" {
			continue
		}
		if attrs == nil {
			attrs = Attributes{}
		}
		attrs[k] = append(attrs[k], v)
	}
	return attrs, noPassword
}
